"""The event codec: to_data → JSON → from_data round trips for every registered event type."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest

from backend.admissions.events import (
    BedOccupied,
    BedReleased,
    BedsAdded,
    BedStateChanged,
    PatientAdmitted,
    PatientDischarged,
    PatientStayClosed,
    PatientStayOpened,
    PatientTransferred,
    WardClosed,
    WardDefined,
    WardNameFreed,
    WardNameTaken,
    WardRenamed,
)
from backend.billing.events import (
    CreditTransferredIn,
    CreditTransferredOut,
    DiscountApplied,
    InvoiceDrafted,
    InvoiceIssued,
    InvoiceLineAdded,
    InvoiceLineRemoved,
    InvoiceVoided,
    PaymentApplied,
    PaymentCaptured,
    PaymentRefused,
    RefundIssued,
)
from backend.kernel import events as codec
from backend.kernel.events import (
    DomainEvent,
    event_class,
    from_data,
    register,
    revive,
    to_data,
    upcast,
)
from backend.notifications.events import (
    NotificationAttemptFailed,
    NotificationAttemptStarted,
    NotificationDeferred,
    NotificationEscalated,
    NotificationQueued,
    NotificationSent,
    NotificationTemplateSet,
    NotificationWithdrawn,
)
from backend.patients.events import (
    PatientDetailsChanged,
    PatientDied,
    PatientDuplicateMergedIn,
    PatientErased,
    PatientMerged,
    PatientRegistered,
)
from backend.scheduling.events import (
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentConfirmed,
    AppointmentMarkedNoShow,
    AppointmentRequested,
    AppointmentVisitOpened,
    BookedOutsideWorkingHours,
    PatientCheckedIn,
    PatientTimeFreed,
    PatientTimeHeld,
    SlotHeld,
    SlotHoldConfirmed,
    SlotHoldExpired,
    SlotHoldPlaced,
    SlotHoldReleased,
    SlotReleased,
    SlotReserved,
    TimeOffAdded,
    TimeOffRemoved,
    WorkingHoursSet,
)
from backend.scheduling.waitlist import (
    WaitlistJoined,
    WaitlistLeft,
    WaitlistOfferAccepted,
    WaitlistOfferExpired,
    WaitlistSlotOffered,
)
from backend.specialties.events import (
    CalculationRecorded,
    ChecklistClosed,
    ChecklistCompleted,
    ChecklistStarted,
    ChecklistStepCompleted,
    SpecialtyDataRecorded,
    SpecialtyEventRecorded,
)
from backend.tenancy.events import (
    ApiKeyCreated,
    ApiKeyRevoked,
    ApiKeyRotated,
    PractitionerRegistered,
    TenantCreated,
    TenantPolicyChanged,
    TenantSpecialtiesEnabled,
)
from backend.visits.events import (
    AddendumAdded,
    AllergyRecorded,
    AllergyRemoved,
    BillableServiceAdded,
    LabOrdered,
    LabResultAmended,
    LabResultReleased,
    LabResultReported,
    LabSpecimenCollected,
    MedicationStarted,
    MedicationStopped,
    PatientVisitClosed,
    PatientVisitOpened,
    PrescriptionCancelled,
    PrescriptionDiscontinued,
    PrescriptionDispensed,
    PrescriptionIssued,
    VisitCoverTaken,
    VisitNoteDrafted,
    VisitOpened,
    VisitSignedOff,
    VitalsEnteredInError,
    VitalsRecorded,
)
from backend.webhooks.events import (
    WebhookSubscriptionCreated,
    WebhookSubscriptionDeleted,
    WebhookSubscriptionDisabled,
    WebhookSubscriptionReplayed,
)

A = uuid.UUID("00000000-0000-4000-8000-00000000000a")
B = uuid.UUID("00000000-0000-4000-8000-00000000000b")
C = uuid.UUID("00000000-0000-4000-8000-00000000000c")
PLUS_2 = dt.timezone(dt.timedelta(hours=2))
MINUS_0530 = dt.timezone(-dt.timedelta(hours=5, minutes=30))
START = dt.datetime(2026, 3, 1, 9, 15, 30, 123456, tzinfo=PLUS_2)
END = dt.datetime(2026, 3, 1, 10, 0, tzinfo=PLUS_2)

SAMPLES: list[DomainEvent] = [
    ChecklistStarted(
        A,
        "cardiac",
        "1.2.0",
        "pre_op_checklist",
        "Pre-operative checklist",
        B,
        "admission",
        C,
        ({"id": "consent", "type": "approval", "approvers": ["DOCTOR"], "done": False},),
    ),
    ChecklistStepCompleted(A, "consent", "doc-1", START),
    ChecklistCompleted(A),
    ChecklistClosed(A, "discharged", END),
    TenantSpecialtiesEnabled(("cardiac", "orthopedics")),
    TenantSpecialtiesEnabled(()),
    ApiKeyCreated(A, "lab", ("events:read", "patients:read"), "2026-11-01", None, START, None),
    ApiKeyCreated(B, "pharmacy", ("visits:read",), "2026-11-01", END, START, 120),
    ApiKeyRotated(A, START, END),
    ApiKeyRevoked(A, END),
    SpecialtyDataRecorded("cardiac", "1.2.0", {"ejection_fraction": 42.5, "nyha_class": "II"}),
    SpecialtyEventRecorded(A, "cardiac", "1.2.0", "cabg", {"grafts": 3, "lima_used": True}, START),
    CalculationRecorded("orthopedics", "bmi", "1.0", {"weight_kg": 80, "height_cm": 180}, "24.7"),
    TenantCreated(A, "Clinic Nord", "clinic-nord", 30, 120, "clinic", "USD"),
    WardDefined(A, "Cardiology 3", ("A1", "A2")),
    BedsAdded(A, ("B1",)),
    WardRenamed(A, "Cardiology 4"),
    WardClosed(A),
    BedStateChanged(A, "B1", "blocked", "broken rail"),
    BedStateChanged(A, "B1", "available", None),
    WardNameTaken(A, "Cardiology 4"),
    WardNameFreed(A, "Cardiology 3"),
    BedOccupied(A, "A1", B, C),
    BedReleased(A, "A1", B, END),
    PatientAdmitted(B, C, A, "A1", "cardiology", "chest pain", START),
    PatientAdmitted(B, C, A, "A1", None, "fall", END),
    PatientTransferred(B, A, "A1", C, "B1", "step-down", END),
    PatientTransferred(B, A, "A1", A, "A2", None, END),
    PatientDischarged(B, "home", "stable", END, "Asia/Kolkata"),
    PatientDischarged(B, "deceased", None, START, "UTC"),
    PatientStayOpened(C, B),
    PatientStayClosed(C, B, START),
    TenantCreated(A, "St. Mary", "st-mary", 30, 120, "hospital", "EUR"),
    TenantPolicyChanged({"currency": "EUR", "quiet_hours_start": "22:00"}),
    PractitionerRegistered(A, "Dr. Ada", "cardiology"),
    PractitionerRegistered(A, "Dr. Bob", None),
    PatientRegistered(
        A, "Ann", "Lee", dt.date(1980, 2, 29), "female", "+49301234", "a@b.de", {}, "+49 30 1234"
    ),
    PatientRegistered(
        A,
        "Ann",
        "Lee",
        dt.date(1980, 2, 29),
        "female",
        None,
        None,
        {"allergies": ["penicillin"], "blood": {"group": "A", "rh": "+"}, "n": 1.5},
        None,
    ),
    PatientDetailsChanged(A, {"birth_date": "1981-01-01", "phone": None, "email": "x@y.z"}),
    PatientDetailsChanged(A, {"email": "new@y.z"}, "the patient wrote with a new address"),
    PatientErased(A, "patient's request under GDPR art. 17"),
    PatientMerged(A, B, "registered twice at the desk"),
    PatientDuplicateMergedIn(B, A),
    PatientDied(A, START, None),
    PatientDied(A, END, B),
    AppointmentRequested(A, B, C, START, END, "check-up", None),
    AppointmentRequested(
        A,
        B,
        C,
        dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC),
        dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC),
        None,
        "recorded after the visit",
    ),
    AppointmentConfirmed(A),
    AppointmentCancelled(A, "patient called"),
    PatientCheckedIn(A, dt.datetime(2026, 3, 1, 3, 0, tzinfo=MINUS_0530), None),
    PatientCheckedIn(A, START, "late, ambulance delay"),
    AppointmentCompleted(A),
    AppointmentMarkedNoShow(A),
    SlotReserved(C, A, START, END),
    AppointmentVisitOpened(A, B),
    PatientVisitOpened(A, B),
    PatientVisitClosed(A, B),
    PrescriptionDiscontinued(A, B, "rash", "doc-1", END),
    PrescriptionCancelled(A, B, "wrong patient", "doc-1", END),
    MedicationStarted(A, B, C, "Ibuprofen 400 mg", END),
    MedicationStarted(A, B, C, "Amoxicillin", None),
    MedicationStopped(A, B),
    SlotReleased(C, A),
    PatientTimeHeld(B, A, START, END),
    PatientTimeFreed(B, A),
    WorkingHoursSet(A, ("mon 09:00-12:00", "mon 13:00-17:00", "sat 20:00-24:00"), 30),
    WorkingHoursSet(A, (), 15),
    TimeOffAdded(A, B, dt.date(2026, 12, 24), dt.date(2027, 1, 2), None, None, "holidays"),
    TimeOffAdded(A, C, dt.date(2026, 3, 3), dt.date(2026, 3, 3), "13:00", "24:00", None),
    TimeOffRemoved(A, B),
    BookedOutsideWorkingHours(A, "urgent, seen at lunch"),
    SlotHoldPlaced(A, B, C, START, END, END),
    SlotHoldPlaced(A, B, None, START, END, END),
    SlotHoldConfirmed(A, B),
    SlotHoldExpired(A),
    SlotHeld(B, A, START, END, END),
    SlotHoldReleased(B, A),
    WaitlistJoined(A, B, C, dt.date(2026, 3, 2), dt.date(2026, 3, 9)),
    WaitlistLeft(A),
    WaitlistSlotOffered(A, B, C, A, START, END, B, dt.date(2026, 3, 2), END),
    WaitlistOfferExpired(A),
    WaitlistOfferAccepted(A, B),
    VisitOpened(A, B, C, None, None, START),
    VisitOpened(A, B, C, A, "fever", END),
    VisitNoteDrafted(A, 2, "cough", "38.2 C", "bronchitis", "rest", B, "doc-1", None),
    VisitNoteDrafted(A, 3, "cough", "38.2 C", "bronchitis", "rest", B, "doc-2", "plan changed"),
    BillableServiceAdded(A, "CONS", "Consultation", 1, Decimal("45.00")),
    VisitSignedOff(
        A,
        B,
        C,
        None,
        ({"code": "CONS", "description": "Consultation", "quantity": 2, "unit_price": "45.00"},),
        3,
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    ),
    VisitSignedOff(A, B, C, A, (), None, None),
    AddendumAdded(A, "allergy noted", "doc-1", END, B),
    VisitCoverTaken(A, "doc-2", "on call", END),
    VitalsRecorded(A, B, START, "n-1", 72, 120, 80, Decimal("37.2"), 16, 98, Decimal("70.5"), None),
    VitalsRecorded(A, B, START, None, None, None, None, None, None, None, None, Decimal("180")),
    VitalsEnteredInError(A, B, "wrong patient", "n-1", END),
    PrescriptionIssued(A, B, "Amoxicillin", "500 mg", "oral", "3x daily", 7, "doc-1"),
    PrescriptionIssued(A, B, "Ibuprofen", "400 mg", "oral", "as needed", None, "doc-1"),
    LabOrdered(A, B, "CBC", "Complete blood count", START),
    LabSpecimenCollected(A, B, END),
    LabResultReported(A, B, "13.5", "g/dL", "12-16", False, None, END, "tech-1"),
    LabResultReported(A, B, "positive", None, None, True, "repeat in a week", END, None),
    LabResultAmended(A, B, "4.1", "mmol/L", None, False, None, "haemolysis", "tech-2", END),
    LabResultReleased(A, B, "doc-1", END),
    AllergyRecorded(A, B, "penicillin", "anaphylaxis", "severe", "nurse-1", START),
    AllergyRecorded(A, C, "latex", None, "unknown", "doc-1", START),
    AllergyRemoved(A, C, "recorded in error", "doc-1", END),
    PrescriptionDispensed(A, B, "pharm-1", END, None),
    PrescriptionDispensed(A, C, "pharm-1", END, "7 days"),
    WebhookSubscriptionCreated(A, B, "https://lab.example/hooks", ("VisitSignedOff",), START),
    WebhookSubscriptionDeleted(A, END),
    WebhookSubscriptionDisabled(A, "10 failures in a row", 42, END),
    WebhookSubscriptionDisabled(A, "the key was revoked", None, END),
    WebhookSubscriptionReplayed(A, 0, END),
    NotificationQueued(A, B, "sms", "+49 30 1234", "appointment_reminder", "Hi {x}", START, C, B),
    NotificationQueued(A, B, None, None, "payment_receipt", "Hi", START, C, None),
    NotificationDeferred(A, END),
    NotificationWithdrawn(A, "appointment cancelled", None),
    NotificationWithdrawn(A, "patient deceased", 2),
    NotificationAttemptStarted(A, 1, START),
    NotificationSent(A, 1, "sms-1"),
    NotificationAttemptFailed(A, 2, "ChannelError: down", END),
    NotificationAttemptFailed(A, 3, "ChannelError: down", None),
    NotificationEscalated(A, "no contact"),
    NotificationTemplateSet("appointment_reminder", "email", "Dear {patient_name}"),
    InvoiceDrafted(A, B, C, "EUR"),
    InvoiceDrafted(A, B, None, "USD"),
    InvoiceLineAdded(A, B, "CONSULT", "Consultation", 2, Decimal("45.50")),
    InvoiceLineRemoved(A, B),
    DiscountApplied(A, Decimal("12.50"), "loyal patient"),
    InvoiceIssued(A, "EUR", Decimal("91.00"), Decimal("11.38"), Decimal("79.62")),
    PaymentCaptured(A, "fakepay", "pay_123", B, Decimal("79.62"), "EUR"),
    PaymentRefused(A, "fakepay", "pay_124", B, Decimal("5.00"), "USD", "CURRENCY_MISMATCH", "x"),
    PaymentApplied(B, A, Decimal("0.10")),
    RefundIssued(C, A, B, Decimal("10.00"), "EUR", "overcharged", "fakepay_re_1", Decimal("2.50")),
    CreditTransferredOut(A, B, C, Decimal("12.34"), "EUR"),
    CreditTransferredIn(C, B, A, Decimal("12.34"), "EUR"),
    InvoiceVoided(A, B, Decimal("79.62"), "EUR", "entered twice"),
]


def _through_json(event: DomainEvent) -> DomainEvent:
    data = json.loads(json.dumps(to_data(event)))
    return from_data(event.type_name(), data)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_event_round_trips_through_json_data(event: DomainEvent) -> None:
    decoded = _through_json(event)
    assert type(decoded) is type(event)
    assert decoded == event
    # Aware datetimes compare by instant: also check each field's exact type and offset.
    for f in dataclasses.fields(event):
        before, after = getattr(event, f.name), getattr(decoded, f.name)
        assert type(after) is type(before), f.name
        if isinstance(before, dt.datetime):
            assert after.utcoffset() == before.utcoffset(), f.name
            assert after.isoformat() == before.isoformat(), f.name


def test_every_registered_backend_event_has_a_round_trip_sample() -> None:
    sampled = {type(e).type_name() for e in SAMPLES}
    registered = {
        name for name, cls in codec._REGISTRY.items() if cls.__module__.startswith("backend.")
    }
    assert registered <= sampled, f"add samples for {sorted(registered - sampled)}"


def test_to_data_produces_plain_json_values() -> None:
    data = to_data(AppointmentRequested(A, B, C, START, END, None, None))
    assert data == {
        "appointment_id": str(A),
        "patient_id": str(B),
        "practitioner_id": str(C),
        "start": "2026-03-01T09:15:30.123456+02:00",
        "end": "2026-03-01T10:00:00+02:00",
        "reason": None,
        "back_charting_reason": None,
    }
    assert (
        to_data(PatientRegistered(A, "a", "b", dt.date(2000, 1, 2), "male", None, None, {}, None))[
            "birth_date"
        ]
        == "2000-01-02"
    )


def test_from_data_revives_typed_values() -> None:
    event = from_data(
        "PatientCheckedIn",
        {
            "appointment_id": str(A),
            "checked_in_at": "2026-03-01T09:00:00-05:30",
            "override_reason": None,
        },
    )
    assert isinstance(event, PatientCheckedIn)
    assert event.appointment_id == A
    assert event.checked_in_at == dt.datetime(2026, 3, 1, 9, tzinfo=MINUS_0530)
    assert event.override_reason is None


def test_from_data_ignores_unknown_keys() -> None:
    data = to_data(AppointmentCancelled(A, "moved away")) | {"legacy_field": 1, "extra": "x"}
    assert from_data("AppointmentCancelled", data) == AppointmentCancelled(A, "moved away")


def test_from_data_with_a_missing_field_raises_type_error() -> None:
    # Fields have no defaults: a stored event lacking one cannot be revived silently.
    with pytest.raises(TypeError):
        from_data("AppointmentCancelled", {"appointment_id": str(A)})


def test_unknown_event_type_raises_key_error() -> None:
    with pytest.raises(KeyError, match="unknown event type NoSuchEvent"):
        from_data("NoSuchEvent", {})
    with pytest.raises(KeyError):
        event_class("NoSuchEvent")


def test_event_class_finds_registered_types() -> None:
    assert event_class("SlotReserved") is SlotReserved
    assert event_class("TenantCreated") is TenantCreated


@register
@dataclasses.dataclass(frozen=True)
class UnitTestProbe(DomainEvent):
    """A test-only event exercising codec paths no backend event uses yet."""

    amount: Decimal
    ids: tuple[uuid.UUID, ...]
    day: dt.date | None
    at: dt.datetime | None


def test_decimal_tuple_and_optional_fields_round_trip() -> None:
    full = UnitTestProbe(Decimal("12.30"), (A, B), dt.date(2026, 1, 31), START)
    assert _through_json(full) == full
    assert _through_json(full).amount.as_tuple() == Decimal("12.30").as_tuple()
    empty = UnitTestProbe(Decimal("0"), (), None, None)
    assert _through_json(empty) == empty


def test_registering_another_class_under_a_taken_name_is_refused() -> None:
    assert register(UnitTestProbe) is UnitTestProbe  # the same class again is fine

    @dataclasses.dataclass(frozen=True)
    class UnitTestProbe2(DomainEvent):
        @classmethod
        def type_name(cls) -> str:
            return "UnitTestProbe"

    with pytest.raises(ValueError, match="registered twice"):
        register(UnitTestProbe2)
    assert event_class("UnitTestProbe") is UnitTestProbe


def test_an_old_shape_is_upcast_on_revival() -> None:
    """TenantCreated v1 (before kind and currency existed), exactly as it was stored."""
    stored = RecordedLike(
        "TenantCreated",
        1,
        {
            "tenant_id": str(A),
            "name": "Old Clinic",
            "slug": "old-clinic",
            "checkin_opens_before_min": 30,
            "checkin_closes_after_min": 120,
        },
    )
    assert revive(stored) == TenantCreated(A, "Old Clinic", "old-clinic", 30, 120, "clinic", "USD")


def test_a_key_made_before_its_own_rate_limit_follows_the_tenant_default() -> None:
    stored = RecordedLike(
        "ApiKeyCreated",
        1,
        {
            "key_id": str(A),
            "name": "lab",
            "scopes": ["patients:read"],
            "api_version": "2026-11-01",
            "expires_at": None,
            "created_at": START.isoformat(),
        },
    )
    expected = ApiKeyCreated(A, "lab", ("patients:read",), "2026-11-01", None, START, None)
    assert revive(stored) == expected


def test_a_discharge_from_before_time_zones_counted_its_days_in_utc() -> None:
    stored = RecordedLike(
        "PatientDischarged",
        1,
        {
            "admission_id": str(B),
            "disposition": "home",
            "summary": None,
            "discharged_at": END.isoformat(),
        },
    )
    assert revive(stored) == PatientDischarged(B, "home", None, END, "UTC")


def test_an_appointment_booked_before_back_charting_existed_was_not_back_charted() -> None:
    stored = RecordedLike(
        "AppointmentRequested",
        1,
        {
            "appointment_id": str(A),
            "patient_id": str(B),
            "practitioner_id": str(C),
            "start": START.isoformat(),
            "end": END.isoformat(),
            "reason": None,
        },
    )
    assert revive(stored) == AppointmentRequested(A, B, C, START, END, None, None)


def test_a_reminder_queued_before_it_named_its_appointment_names_none() -> None:
    stored = RecordedLike(
        "NotificationQueued",
        1,
        {
            "notification_id": str(A),
            "patient_id": str(B),
            "channel": "sms",
            "address": "+1 555 0100",
            "template": "appointment_reminder",
            "body": "Hi",
            "send_after": START.isoformat(),
            "source_event_id": str(C),
        },
    )
    assert revive(stored) == NotificationQueued(
        A, B, "sms", "+1 555 0100", "appointment_reminder", "Hi", START, C, None
    )


def test_visit_events_recorded_before_authorship_revive_without_it() -> None:
    """v1 note revisions, sign-offs and addenda name no author, subject, revision or hash."""
    note = {"subjective": "s", "objective": "o", "assessment": "a", "plan": "p"}
    drafted = {"visit_id": str(A), "revision": 1, **note}
    assert revive(RecordedLike("VisitNoteDrafted", 1, drafted)) == VisitNoteDrafted(
        A, 1, **note, patient_id=None, author=None, reason=None
    )
    signed = {"visit_id": str(A), "patient_id": str(B), "practitioner_id": str(C)}
    signed |= {"appointment_id": None, "services": []}
    assert revive(RecordedLike("VisitSignedOff", 1, signed)) == VisitSignedOff(
        A, B, C, None, (), None, None
    )
    added = {"visit_id": str(A), "text": "t", "author": "doc", "added_at": END.isoformat()}
    assert revive(RecordedLike("AddendumAdded", 1, added)) == AddendumAdded(
        A, "t", "doc", END, None
    )


def test_a_current_shape_is_revived_as_is_and_a_future_one_refused() -> None:
    sample = TenantCreated(A, "New", "new", 30, 120, "hospital", "EUR")
    assert revive(RecordedLike("TenantCreated", 2, to_data(sample))) == sample
    with pytest.raises(ValueError, match="newer than this code"):
        revive(RecordedLike("TenantCreated", 3, to_data(sample)))


def test_a_missing_upcaster_is_named() -> None:
    with pytest.raises(KeyError, match="no upcaster for AppointmentConfirmed v0"):
        upcast("AppointmentConfirmed", 0, {"appointment_id": str(A)})


@dataclasses.dataclass(frozen=True)
class RecordedLike:
    event_type: str
    schema_version: int
    data: dict[str, object]
