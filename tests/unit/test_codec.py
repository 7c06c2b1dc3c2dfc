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
    PatientAdmitted,
    PatientDischarged,
    PatientStayClosed,
    PatientStayOpened,
    PatientTransferred,
    WardDefined,
)
from backend.billing.events import (
    DiscountApplied,
    InvoiceDrafted,
    InvoiceIssued,
    InvoiceLineAdded,
    InvoiceLineRemoved,
    PaymentApplied,
    PaymentCaptured,
    PaymentRefused,
    RefundIssued,
)
from backend.encounters.events import (
    AddendumAdded,
    BillableServiceAdded,
    LabOrdered,
    LabResultReported,
    LabSpecimenCollected,
    PrescriptionIssued,
    VisitNoteDrafted,
    VisitOpened,
    VisitSignedOff,
    VitalsRecorded,
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
    NotificationEscalated,
    NotificationQueued,
    NotificationSent,
    NotificationTemplateSet,
)
from backend.patients.events import PatientDetailsChanged, PatientErased, PatientRegistered
from backend.plugins.events import (
    CalculationRecorded,
    ChecklistCompleted,
    ChecklistStarted,
    ChecklistStepCompleted,
    SpecialtyDataRecorded,
    SpecialtyEventRecorded,
)
from backend.scheduling.events import (
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentConfirmed,
    AppointmentMarkedNoShow,
    AppointmentRequested,
    PatientCheckedIn,
    SlotReleased,
    SlotReserved,
)
from backend.tenancy.events import (
    PractitionerRegistered,
    TenantCreated,
    TenantPolicyChanged,
    TenantSpecialtiesEnabled,
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
    TenantSpecialtiesEnabled(("cardiac", "orthopedics")),
    TenantSpecialtiesEnabled(()),
    SpecialtyDataRecorded("cardiac", "1.2.0", {"ejection_fraction": 42.5, "nyha_class": "II"}),
    SpecialtyEventRecorded(A, "cardiac", "1.2.0", "cabg", {"grafts": 3, "lima_used": True}, START),
    CalculationRecorded("orthopedics", "bmi", "1.0", {"weight_kg": 80, "height_cm": 180}, "24.7"),
    TenantCreated(A, "Clinic Nord", "clinic-nord", 30, 120, "clinic", "USD"),
    WardDefined(A, "Cardiology 3", ("A1", "A2")),
    BedsAdded(A, ("B1",)),
    BedOccupied(A, "A1", B, C),
    BedReleased(A, "A1", B, END),
    PatientAdmitted(B, C, A, "A1", "cardiology", "chest pain", START),
    PatientAdmitted(B, C, A, "A1", None, "fall", END),
    PatientTransferred(B, A, "A1", C, "B1", "step-down", END),
    PatientTransferred(B, A, "A1", A, "A2", None, END),
    PatientDischarged(B, "home", "stable", END),
    PatientDischarged(B, "deceased", None, START),
    PatientStayOpened(C, B),
    PatientStayClosed(C, B, START),
    TenantCreated(A, "St. Mary", "st-mary", 30, 120, "hospital", "EUR"),
    TenantPolicyChanged({"currency": "EUR", "quiet_hours_start": "22:00"}),
    PractitionerRegistered(A, "Dr. Ada", "cardiology"),
    PractitionerRegistered(A, "Dr. Bob", None),
    PatientRegistered(A, "Ann", "Lee", dt.date(1980, 2, 29), "female", "+49 30 1234", "a@b.de", {}),
    PatientRegistered(
        A,
        "Ann",
        "Lee",
        dt.date(1980, 2, 29),
        "female",
        None,
        None,
        {"allergies": ["penicillin"], "blood": {"group": "A", "rh": "+"}, "n": 1.5},
    ),
    PatientDetailsChanged(A, {"birth_date": "1981-01-01", "phone": None, "email": "x@y.z"}),
    PatientErased(A, "patient's request under GDPR art. 17"),
    AppointmentRequested(A, B, C, START, END, "check-up"),
    AppointmentRequested(
        A,
        B,
        C,
        dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC),
        dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC),
        None,
    ),
    AppointmentConfirmed(A),
    AppointmentCancelled(A, "patient called"),
    PatientCheckedIn(A, dt.datetime(2026, 3, 1, 3, 0, tzinfo=MINUS_0530), None),
    PatientCheckedIn(A, START, "late, ambulance delay"),
    AppointmentCompleted(A),
    AppointmentMarkedNoShow(A),
    SlotReserved(C, A, START, END),
    SlotReleased(C, A),
    VisitOpened(A, B, C, None, None, START),
    VisitOpened(A, B, C, A, "fever", END),
    VisitNoteDrafted(A, 2, "cough", "38.2 C", "bronchitis", "rest"),
    BillableServiceAdded(A, "CONS", "Consultation", 1, Decimal("45.00")),
    VisitSignedOff(
        A,
        B,
        C,
        None,
        ({"code": "CONS", "description": "Consultation", "quantity": 2, "unit_price": "45.00"},),
    ),
    VisitSignedOff(A, B, C, A, ()),
    AddendumAdded(A, "allergy noted", "doc-1", END),
    VitalsRecorded(A, START, 72, 120, 80, Decimal("37.2"), 16, 98, Decimal("70.50"), None),
    VitalsRecorded(A, START, None, None, None, None, None, None, None, Decimal("180")),
    PrescriptionIssued(A, B, "Amoxicillin", "500 mg", "oral", "3x daily", 7, "doc-1"),
    PrescriptionIssued(A, B, "Ibuprofen", "400 mg", "oral", "as needed", None, "doc-1"),
    LabOrdered(A, B, "CBC", "Complete blood count", START),
    LabSpecimenCollected(A, B, END),
    LabResultReported(A, B, "13.5", "g/dL", "12-16", False, None, END),
    LabResultReported(A, B, "positive", None, None, True, "repeat in a week", END),
    NotificationQueued(A, B, "sms", "+49 30 1234", "appointment_reminder", "Hi {x}", START, C),
    NotificationQueued(A, B, None, None, "appointment_reminder", "Hi", START, C),
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
    RefundIssued(C, A, B, Decimal("10.00"), "EUR", "overcharged", "fakepay_re_1"),
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
    data = to_data(AppointmentRequested(A, B, C, START, END, None))
    assert data == {
        "appointment_id": str(A),
        "patient_id": str(B),
        "practitioner_id": str(C),
        "start": "2026-03-01T09:15:30.123456+02:00",
        "end": "2026-03-01T10:00:00+02:00",
        "reason": None,
    }
    assert (
        to_data(PatientRegistered(A, "a", "b", dt.date(2000, 1, 2), "male", None, None, {}))[
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
