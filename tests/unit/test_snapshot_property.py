"""Snapshot-loaded state equals full replay, for every aggregate type, over random command
sequences (hypothesis).

Each aggregate gets a command generator: random commands are decided on the current state, the
refused ones dropped, the accepted events folded on. Then, for every place a snapshot could
have been taken, the state is written to JSON and revived (as a snapshot is), the remaining
events folded on top, and the result must equal folding every event from the start.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.admissions import model as admissions
from backend.admissions import ward_names, wards
from backend.admissions.stays import STAY, Stay
from backend.admissions.wards import Ward
from backend.billing import model as billing
from backend.billing import payment as payments
from backend.kernel import state_codec
from backend.kernel.aggregate import _AGGREGATES, Aggregate
from backend.kernel.errors import DomainError
from backend.kernel.events import DomainEvent, revive, to_data
from backend.notifications import model as notifications
from backend.notifications import templates
from backend.notifications.circumstances import Appointment, Circumstances
from backend.notifications.quiet_hours import QuietHours
from backend.patients import model as patients
from backend.scheduling import holds, hours, waitlist
from backend.scheduling import model as scheduling
from backend.scheduling.schedule import PATIENT_SCHEDULE, SCHEDULE, DaySchedule
from backend.specialties import capture, workflows
from backend.specialties.loading import load_plugin
from backend.specialties.model import Outcome
from backend.specialties.registry import DEFAULT_DIR as PLUGINS_DIR
from backend.tenancy import model as tenancy
from backend.visits import lab, open_visits, patient_medications, prescriptions, vitals
from backend.visits import model as visits
from backend.visits.vitals import Readings
from backend.webhooks import model as webhooks

Draw = Callable[[st.SearchStrategy[Any]], Any]
Command = Callable[[Any, Draw], list[DomainEvent]]

ID = uuid.UUID("00000000-0000-4000-8000-000000000042")
BASE = dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)
TODAY = dt.date(2026, 3, 2)
names = st.text(alphabet="abcdefgh ÄÖü-'", min_size=1, max_size=12)
moments = st.integers(0, 48).map(lambda q: BASE + dt.timedelta(minutes=15 * q))


def _patient_commands() -> list[Command]:
    def register(state: Any, draw: Draw) -> list[DomainEvent]:
        details = {
            "given_name": draw(names),
            "family_name": draw(names),
            "birth_date": draw(st.dates(dt.date(1900, 1, 1), TODAY)),
            "sex": draw(st.sampled_from(sorted(patients.SEXES))),
            "phone": draw(st.none() | st.just("+49 30 1234567")),
            "email": draw(st.none() | st.just("a@b.de")),
            "specialty_data": draw(
                st.dictionaries(
                    st.sampled_from("xyz"),
                    st.dictionaries(st.sampled_from("ab"), st.integers(-(2**53), 2**53)),
                    max_size=2,
                )
            ),
        }
        return patients.register_patient(state, ID, details, TODAY)

    def change(state: Any, draw: Draw) -> list[DomainEvent]:
        field = draw(st.sampled_from(["given_name", "family_name", "phone", "birth_date"]))
        value: Any = (
            draw(st.dates(dt.date(1900, 1, 1), TODAY))
            if field == "birth_date"
            else (draw(names) if field != "phone" else draw(st.none() | st.just("+1 212 555 0100")))
        )
        return patients.change_details(state, {field: value}, TODAY)

    def die(state: Any, draw: Draw) -> list[DomainEvent]:
        return patients.record_death(
            state, draw(moments), LATER, draw(st.none() | st.just(ID)), zone=dt.UTC
        )

    def calculate(state: Any, draw: Draw) -> list[DomainEvent]:
        values = {"weight_kg": draw(st.integers(40, 150)), "height_cm": 170}
        return _computed(
            lambda results: capture.patient_data(
                PLUGINS, ID, {}, {"orthopedics": values}, {}, {}, results
            )
        )

    return [register, change, change, calculate, die]


def _appointment_commands() -> list[Command]:
    window = scheduling.CheckinWindow(dt.timedelta(minutes=30), dt.timedelta(hours=2))

    def request(state: Any, draw: Draw) -> list[DomainEvent]:
        start = draw(moments)
        end = start + dt.timedelta(minutes=30)
        booking = scheduling.Booking(
            ID, ID, ID, start, end, draw(st.none() | names), draw(st.none() | names)
        )
        return scheduling.request(state, booking, draw(moments), {}, {}, "refuse").events[ID]

    def check_in(state: Any, draw: Draw) -> list[DomainEvent]:
        return scheduling.check_in(state, draw(moments), window, draw(st.none() | names), True)

    return [
        request,
        lambda s, d: scheduling.confirm(s),
        lambda s, d: scheduling.cancel(s, d(names)),
        check_in,
        lambda s, d: scheduling.complete(s),
        lambda s, d: scheduling.mark_no_show(s, d(moments)),
        lambda s, d: scheduling.note_visit(s, ID) if s.id is not None else [],
    ]


def _tenant_commands() -> list[Command]:
    def create(state: Any, draw: Draw) -> list[DomainEvent]:
        kind = draw(st.sampled_from(["clinic", "hospital"]))
        return tenancy.create_tenant(state, ID, draw(names), "clinic-a", 30, 120, kind, "EUR")

    def change(state: Any, draw: Draw) -> list[DomainEvent]:
        changes = draw(
            st.sampled_from(
                [
                    {"currency": "CHF"},
                    {"discount_threshold_percent": "12.5"},
                    {"quiet_hours_start": "22:15", "timezone": "Asia/Tokyo"},
                    {"late_charting_max_hours": 12},
                ]
            )
        )
        return tenancy.change_policy(state, changes)

    def specialties(state: Any, draw: Draw) -> list[DomainEvent]:
        chosen = draw(st.lists(st.sampled_from(["cardiac", "orthopedics"]), unique=True))
        return tenancy.enable_specialties(state, chosen)

    return [create, change, specialties]


def _practitioner_commands() -> list[Command]:
    return [lambda s, d: tenancy.register_practitioner(s, ID, d(names), d(st.none() | names))]


def _schedule_commands() -> list[Command]:
    return _day_schedule_commands(patient=False)


def _patient_schedule_commands() -> list[Command]:
    return _day_schedule_commands(patient=True)


def _day_schedule_commands(*, patient: bool) -> list[Command]:
    """A practitioner's day schedule, or (`patient`) a patient's, under the same bookings."""
    appointments = [uuid.UUID(int=n) for n in range(1, 6)]

    def reserve(state: DaySchedule, draw: Draw) -> list[DomainEvent]:
        start = draw(moments)
        appointment = draw(st.sampled_from(appointments))
        booking = scheduling.Booking(
            appointment, ID, ID, start, start + dt.timedelta(hours=1), None, "charted late"
        )
        days, patient_days = ({}, {ID: state}) if patient else ({ID: state}, {})
        policy = draw(st.sampled_from(["refuse", "warn"]))
        booked = scheduling.request(
            scheduling.Appointment(), booking, draw(moments), days, patient_days, policy
        )
        return booked.events[ID]

    def release(state: DaySchedule, draw: Draw) -> list[DomainEvent]:
        if not state.slots:
            return []
        appointment = draw(st.sampled_from(sorted(state.slots)))
        held = scheduling.Appointment(appointment, patient_id=ID, practitioner_id=ID)
        return scheduling.free_patient(held, state) if patient else [scheduling.release(held)]

    def hold(state: DaySchedule, draw: Draw) -> list[DomainEvent]:
        start = draw(moments)
        new = holds.NewHold(draw(st.sampled_from(appointments)), ID, None, start, start + HOUR)
        placed = holds.place(new, start - HOUR, dt.timedelta(minutes=10), {ID: state})
        return placed[ID]

    def release_hold(state: DaySchedule, draw: Draw) -> list[DomainEvent]:
        if not state.holds:
            return []
        held = holds.SlotHold(draw(st.sampled_from(sorted(state.holds))), practitioner_id=ID)
        return [holds.release(held)]

    return [reserve, release] if patient else [reserve, release, hold, release_hold]


HOUR = dt.timedelta(hours=1)


def _working_hours_commands() -> list[Command]:
    offs = [uuid.UUID(int=n) for n in range(1, 4)]
    clocks = st.sampled_from(["08:00", "09:30", "12:00", "13:00", "17:00"])

    def set_hours(state: hours.WorkingHours, draw: Draw) -> list[DomainEvent]:
        start, end = sorted(draw(st.lists(clocks, min_size=2, max_size=2, unique=True)))
        weekly = [hours.period(0, draw(st.sampled_from(hours.WEEKDAYS)), start, end)]
        return hours.set_hours(ID, weekly, draw(st.sampled_from([15, 30, 60])))

    def add_off(state: hours.WorkingHours, draw: Draw) -> list[DomainEvent]:
        first = draw(moments).date()
        whole = draw(st.booleans())
        off = hours.TimeOff(
            first, first, None if whole else "09:00", None if whole else "12:00", None
        )
        return hours.add_time_off(ID, draw(st.sampled_from(offs)), off)

    def remove_off(state: hours.WorkingHours, draw: Draw) -> list[DomainEvent]:
        return hours.remove_time_off(state, ID, draw(st.sampled_from(offs)))

    return [set_hours, add_off, remove_off]


def _hold_commands() -> list[Command]:
    def place(state: holds.SlotHold, draw: Draw) -> list[DomainEvent]:
        start = draw(moments)
        new = holds.NewHold(ID, ID, draw(st.none() | st.just(ID)), start, start + HOUR)
        return holds.place(new, start - HOUR, dt.timedelta(minutes=10), {})[ID]

    def confirm(state: holds.SlotHold, draw: Draw) -> list[DomainEvent]:
        return holds.confirm(state, draw(moments), ID)

    def expire(state: holds.SlotHold, draw: Draw) -> list[DomainEvent]:
        return holds.expire(state, draw(moments))

    return [place, confirm, expire]


def _waitlist_commands() -> list[Command]:
    """Joins, leaves, freed slots offered, offers expiring (passing on) and accepted."""
    patients = [uuid.UUID(int=n) for n in range(1, 5)]
    freed = [uuid.UUID(int=n) for n in range(10, 13)]
    window = dt.timedelta(minutes=30)

    def join(state: waitlist.Waitlist, draw: Draw) -> list[DomainEvent]:
        first = TODAY + dt.timedelta(days=draw(st.integers(0, 3)))
        return waitlist.join(
            state,
            uuid.uuid4(),
            draw(st.sampled_from(patients)),
            ID,
            first,
            first + dt.timedelta(days=draw(st.integers(0, 3))),
            TODAY,
        )

    def leave(state: waitlist.Waitlist, draw: Draw) -> list[DomainEvent]:
        if not state.entries:
            return []
        entry = draw(st.sampled_from(state.entries))
        return waitlist.leave(state, entry.id, BASE, window)

    def offer(state: waitlist.Waitlist, draw: Draw) -> list[DomainEvent]:
        start = BASE + dt.timedelta(hours=draw(st.integers(1, 96)))
        day = start.date()
        slot = waitlist.Slot(
            start, start + dt.timedelta(minutes=20), draw(st.sampled_from(freed)), day
        )
        return waitlist.offer(state, slot, BASE, window)

    def expire(state: waitlist.Waitlist, draw: Draw) -> list[DomainEvent]:
        if not state.offers:
            return []
        offer_id = draw(st.sampled_from(sorted(state.offers)))
        return waitlist.expire(state, offer_id, BASE + window, window)

    def accept(state: waitlist.Waitlist, draw: Draw) -> list[DomainEvent]:
        if not state.offers:
            return []
        offer_id = draw(st.sampled_from(sorted(state.offers)))
        waitlist.accept(state, offer_id, ID, BASE)
        return [waitlist.WaitlistOfferAccepted(offer_id, uuid.uuid4())]

    return [join, leave, offer, expire, accept]


PLUGINS = {name: load_plugin(PLUGINS_DIR / name) for name in ("cardiac", "orthopedics")}


def _computed(decide: Callable[[capture.Results], capture.Capture]) -> list[DomainEvent]:
    """The events decided once the calculations the capture needs have outcomes."""
    pending = decide({}).pending
    return decide(
        {c.key: Outcome(3 if c.calculator.output != "string" else "normal") for c in pending}
    ).events


def _specialty_commands(target: str) -> list[Command]:
    """Specialty data (with the calculations it triggers) and specialty events."""

    def data(state: Any, draw: Draw) -> list[DomainEvent]:
        values = {"weight_kg": draw(st.integers(40, 150)), "height_cm": draw(st.integers(150, 200))}
        return _computed(
            lambda results: capture.stream_data(
                PLUGINS, target, state, {"orthopedics": values}, {}, {}, results
            )
        )

    def event(state: Any, draw: Draw) -> list[DomainEvent]:
        outcome = draw(st.sampled_from(["completed", "abandoned"]))
        fields = {"access_site": "radial", "outcome": outcome, "ejection_fraction": 41.5}
        return _computed(
            lambda results: capture.specialty_event(
                PLUGINS["cardiac"],
                target,
                state,
                "catheterization",
                fields,
                ID,
                BASE,
                {},
                {},
                results,
            )
        )

    return [data, event]


def _checklist_commands() -> list[Command]:
    cardiac = PLUGINS["cardiac"]
    [pre_op] = workflows.triggered(cardiac, {"admission": True})
    steps = [s["id"] for s in pre_op["steps"]]

    def tick(state: Any, draw: Draw) -> list[DomainEvent]:
        roles = frozenset({draw(st.sampled_from(["NURSE", "DOCTOR"]))})
        return workflows.complete_step(state, draw(st.sampled_from(steps)), "x", roles, BASE)

    return [lambda s, d: workflows.start(s, cardiac, pre_op, ID, "admission", ID), tick]


def _visit_commands() -> list[Command]:
    note = st.fixed_dictionaries({s: names for s in visits.NOTE_FIELDS})
    order = uuid.UUID(int=7)
    readings = [uuid.UUID(int=n) for n in range(20, 23)]
    drugs = [uuid.UUID(int=n) for n in range(40, 43)]
    results = st.builds(
        lab.LabResult,
        st.sampled_from(["13", "4.1", "positive"]),
        st.just("1"),
        st.none(),
        st.booleans(),
        st.none() | names,
    )

    def open_visit(state: Any, draw: Draw) -> list[DomainEvent]:
        return visits.open_visit(state, ID, ID, ID, None, None, draw(st.none() | names), BASE)

    def record_vitals(state: Any, draw: Draw) -> list[DomainEvent]:
        chart = Readings(
            heart_rate=draw(st.integers(20, 300)), spo2=draw(st.none() | st.integers(50, 100))
        )
        reading = draw(st.sampled_from(readings))
        return vitals.record_vitals(state, reading, draw(moments), chart, draw(st.just("n")))

    def enter_in_error(state: Any, draw: Draw) -> list[DomainEvent]:
        reading = draw(st.sampled_from(readings))
        return vitals.enter_in_error(state, reading, draw(names), "n", False, draw(moments))

    return [
        open_visit,
        lambda s, d: visits.draft_note(s, d(note), "doc"),
        lambda s, d: visits.add_service(s, "CONS", d(names), d(st.integers(1, 3)), "12.50"),
        lambda s, d: visits.sign_off(s, str(ID), True),
        lambda s, d: visits.add_addendum(s, d(names), "doc", d(moments)),
        record_vitals,
        enter_in_error,
        lambda s, d: prescriptions.issue_prescription(
            s, d(st.sampled_from(drugs)), d(names), "1 tab", "oral", "daily", None, "doc"
        ),
        lambda s, d: prescriptions.discontinue(s, d(st.sampled_from(drugs)), "x", "doc", BASE),
        lambda s, d: prescriptions.cancel(s, d(st.sampled_from(drugs)), "x", "doc", BASE),
        lambda s, d: lab.order_lab(s, order, "CBC", d(names), d(moments)),
        lambda s, d: lab.collect_specimen(s, order, d(moments)),
        lambda s, d: lab.report_result(s, order, d(results), "tech", d(moments)),
        lambda s, d: lab.amend_result(s, order, d(results), d(names), "tech", d(moments)),
        *_specialty_commands("visit"),
    ]


BEDS = ("A1", "A2", "A3")
LATER = BASE + dt.timedelta(days=3)


def _in_bed(admission: uuid.UUID, bed: str) -> admissions.Admission:
    return admissions.Admission(admission, ID, ID, bed, None, "obs", "admitted", BASE, BASE)


def _admission_commands() -> list[Command]:
    def admit(state: Any, draw: Draw) -> list[DomainEvent]:
        ward = Ward(ID, "W", BEDS)
        bed = draw(st.sampled_from(BEDS))
        return admissions.admit(
            state, ID, ID, ward, Stay(), bed, draw(st.none() | names), "obs", draw(moments)
        ).admission

    def transfer(state: Any, draw: Draw) -> list[DomainEvent]:
        occupied = {state.bed: state.id} if state.bed else {}
        ward = Ward(ID, "W", BEDS, occupied)
        bed = draw(st.sampled_from(BEDS))
        return admissions.transfer(state, ward, ward, bed, None, LATER).admission

    def discharge(state: Any, draw: Draw) -> list[DomainEvent]:
        disposition = draw(st.sampled_from(sorted(admissions.DISPOSITIONS)))
        return admissions.discharge(state, disposition, None, LATER, "Asia/Kolkata").admission

    return [admit, transfer, discharge, *_specialty_commands("admission")]


def _ward_commands() -> list[Command]:
    def occupy(state: Ward, draw: Draw) -> list[DomainEvent]:
        bed = draw(st.sampled_from(BEDS))
        admission = uuid.UUID(int=draw(st.integers(1, 1000)))
        decided = admissions.admit(
            admissions.Admission(), admission, ID, state, Stay(), bed, None, "obs", LATER
        )
        return decided.wards[ID]

    def release(state: Ward, draw: Draw) -> list[DomainEvent]:
        if not state.occupants:
            return []
        bed = draw(st.sampled_from(sorted(state.occupants)))
        admission = _in_bed(state.occupants[bed], bed)
        return admissions.discharge(admission, "home", None, LATER, "UTC").wards[ID]

    def bed_state(state: Ward, draw: Draw) -> list[DomainEvent]:
        new = draw(st.sampled_from(["available", "cleaning", "blocked"]))
        return wards.set_bed_state(state, draw(st.sampled_from(BEDS)), new, draw(st.none() | names))

    return [
        lambda s, d: wards.define(s, ID, d(names), list(BEDS[:2])),
        lambda s, d: wards.add_beds(s, ["A3"]),
        occupy,
        release,
        bed_state,
        lambda s, d: wards.rename(s, d(names)),
        lambda s, d: wards.close(s),
    ]


def _ward_names_commands() -> list[Command]:
    ward_ids = [uuid.UUID(int=n) for n in range(50, 53)]
    labels = st.sampled_from(["North", "north ", "South", "ICU"])

    def take(state: Any, draw: Draw) -> list[DomainEvent]:
        old = draw(st.none() | labels)
        return ward_names.take(state, draw(st.sampled_from(ward_ids)), draw(labels), old)

    return [take, lambda s, d: ward_names.free(d(st.sampled_from(ward_ids)), d(labels))]


def _open_visits_commands() -> list[Command]:
    visit_ids = [uuid.UUID(int=n) for n in range(30, 33)]
    return [
        lambda s, d: open_visits.opening(s, ID, d(st.sampled_from(visit_ids)))[0],
        lambda s, d: open_visits.closing(s, ID, d(st.sampled_from(visit_ids))),
    ]


def _medications_commands() -> list[Command]:
    drugs = [uuid.UUID(int=n) for n in range(40, 43)]

    def start(state: Any, draw: Draw) -> list[DomainEvent]:
        duration = draw(st.none() | st.integers(1, 30))
        drug = draw(st.sampled_from(drugs))
        return patient_medications.start(ID, drug, ID, draw(names), duration, draw(moments))

    return [
        start,
        lambda s, d: patient_medications.stop(s, ID, d(st.sampled_from(drugs))),
    ]


def _subscription_commands() -> list[Command]:
    """Deleting, disabling and replaying need a subscription: commands on none are skipped."""
    positions = st.integers(1, 99)

    def created(state: Any, draw: Draw) -> list[DomainEvent]:
        types = draw(st.lists(st.sampled_from(["PatientRegistered", "VisitSignedOff"]), min_size=1))
        return webhooks.create(state, ID, ID, "https://partner.example/hook", types, draw(moments))

    def existing(decide: Command) -> Command:
        def guarded(state: Any, draw: Draw) -> list[DomainEvent]:
            return decide(state, draw) if state.exists else []

        return guarded

    return [
        created,
        existing(lambda s, d: webhooks.delete(s, d(moments))),
        existing(lambda s, d: webhooks.disable(s, "failing", d(st.none() | positions), d(moments))),
        existing(lambda s, d: webhooks.replay(s, d(st.integers(0, 99)), d(moments))),
    ]


def _stay_commands() -> list[Command]:
    def admit(state: Stay, draw: Draw) -> list[DomainEvent]:
        admission = uuid.UUID(int=draw(st.integers(1, 1000)))
        ward = Ward(ID, "W", BEDS)
        return admissions.admit(
            admissions.Admission(), admission, ID, ward, state, "A1", None, "obs", LATER
        ).stay

    def discharge(state: Stay, draw: Draw) -> list[DomainEvent]:
        if state.admission_id is None:
            return []
        admission = _in_bed(state.admission_id, "A1")
        return admissions.discharge(admission, "home", None, LATER, "UTC").stay

    return [admit, discharge]


def _notification_commands() -> list[Command]:
    def queue(state: Any, draw: Draw) -> list[DomainEvent]:
        contact = draw(
            st.sampled_from(
                [
                    notifications.Contact("sms", "+1 555 0100"),
                    notifications.Contact("email", "a@b.de"),
                    notifications.Contact(None, None),
                ]
            )
        )
        appointment = draw(st.none() | st.just(ID))
        body = d_body(draw)
        return notifications.queue(state, ID, ID, contact, "reminder", body, BASE, ID, appointment)

    def fail(state: Any, draw: Draw) -> list[DomainEvent]:
        retry = notifications.RetryPolicy()
        return notifications.record_failure(state, state.attempts, draw(names), LATER, retry)

    def start(state: Any, draw: Draw) -> list[DomainEvent]:
        """Sent, deferred by quiet hours or withdrawn, as the circumstances drawn say."""
        quiet = QuietHours(dt.time(draw(st.sampled_from([0, 6]))), dt.time(9), "UTC")
        appointment = Appointment(
            draw(st.sampled_from(["confirmed", "cancelled"])), LATER + dt.timedelta(days=1)
        )
        situation = Circumstances("active", quiet, draw(st.none() | st.just(appointment)))
        return notifications.start_attempt(state, LATER, dt.timedelta(seconds=60), situation)

    return [
        queue,
        start,
        lambda s, d: notifications.record_sent(s, s.attempts, d(names)),
        fail,
        lambda s, d: notifications.withdraw(s, d(names)),
    ]


def d_body(draw: Draw) -> str:
    return f"Reminder: {draw(names)}"


def _template_commands() -> list[Command]:
    return [
        lambda s, d: templates.set_template(
            "reminder", d(st.sampled_from(["sms", "email", "whatsapp"])), d_body(d)
        )
    ]


money = st.decimals(Decimal("0.01"), Decimal("500"), places=2)


def _capture(draw: Draw, invoice: billing.Invoice) -> tuple[list[DomainEvent], list[DomainEvent]]:
    reported = payments.Capture(
        "fakepay",
        str(draw(st.integers(1, 5))),
        ID,
        draw(money),
        draw(st.sampled_from(["EUR", "USD"])),
    )
    return payments.capture(payments.Payment(), invoice, reported)


def _invoice_commands() -> list[Command]:
    def line(draw: Draw) -> billing.NewLine:
        return billing.NewLine("CONS", draw(names), draw(st.integers(1, 3)), draw(money))

    def add(state: Any, draw: Draw) -> list[DomainEvent]:
        return billing.add_line(state, uuid.UUID(int=draw(st.integers(1, 10**6))), line(draw))

    def remove(state: Any, draw: Draw) -> list[DomainEvent]:
        if not state.lines:
            return []
        return billing.remove_line(state, draw(st.sampled_from(state.lines)).id)

    def discount(state: Any, draw: Draw) -> list[DomainEvent]:
        percent = draw(st.decimals(Decimal("0"), Decimal("100"), places=2))
        return billing.apply_discount(state, percent, "loyal", Decimal("10"), draw(st.booleans()))

    def pay(state: Any, draw: Draw) -> list[DomainEvent]:
        return _capture(draw, state)[1]

    return [
        lambda s, d: billing.draft(s, ID, ID, None, "EUR", [(uuid.UUID(int=0), line(d))]),
        add,
        remove,
        discount,
        lambda s, d: billing.issue(s),
        pay,
    ]


def _payment_commands() -> list[Command]:
    invoice = billing.Invoice(ID, ID, None, "EUR")

    def capture(state: Any, draw: Draw) -> list[DomainEvent]:
        reported = payments.Capture(
            "fakepay", "p-1", ID, draw(money), draw(st.sampled_from(["EUR", "USD"]))
        )
        return payments.capture(state, invoice, reported)[0]

    def refund(state: Any, draw: Draw) -> list[DomainEvent]:
        amount = draw(money)
        refund_id = uuid.UUID(int=draw(st.integers(1, 10**6)))
        return [payments.refund(state, invoice, refund_id, amount, draw(names), "gw-1")]

    return [capture, refund]


COMMANDS: dict[str, Callable[[], list[Command]]] = {
    billing.INVOICE.stream_type: _invoice_commands,
    payments.PAYMENT.stream_type: _payment_commands,
    notifications.NOTIFICATION.stream_type: _notification_commands,
    templates.TEMPLATE.stream_type: _template_commands,
    admissions.ADMISSION.stream_type: _admission_commands,
    wards.WARD.stream_type: _ward_commands,
    ward_names.WARD_NAMES.stream_type: _ward_names_commands,
    STAY.stream_type: _stay_commands,
    open_visits.OPEN_VISITS.stream_type: _open_visits_commands,
    patient_medications.PATIENT_MEDICATIONS.stream_type: _medications_commands,
    webhooks.SUBSCRIPTION.stream_type: _subscription_commands,
    visits.VISIT.stream_type: _visit_commands,
    workflows.CHECKLIST.stream_type: _checklist_commands,
    patients.PATIENT.stream_type: _patient_commands,
    scheduling.APPOINTMENT.stream_type: _appointment_commands,
    tenancy.TENANT.stream_type: _tenant_commands,
    tenancy.PRACTITIONER.stream_type: _practitioner_commands,
    SCHEDULE.stream_type: _schedule_commands,
    PATIENT_SCHEDULE.stream_type: _patient_schedule_commands,
    hours.WORKING_HOURS.stream_type: _working_hours_commands,
    holds.SLOT_HOLD.stream_type: _hold_commands,
    waitlist.WAITLIST.stream_type: _waitlist_commands,
}


def test_every_aggregate_type_has_a_command_generator() -> None:
    assert set(_AGGREGATES) <= set(COMMANDS), sorted(set(_AGGREGATES) - set(COMMANDS))


def _history(aggregate: Aggregate[Any], draw: Draw) -> list[DomainEvent]:
    commands = COMMANDS[aggregate.stream_type]()
    state, events = aggregate.initial(), []
    for _ in range(draw(st.integers(1, 25))):
        command = draw(st.sampled_from(commands))
        try:
            decided = command(state, draw)
        except DomainError:
            continue
        stored = [revive(_Stored(e)) for e in decided]  # as a load would see them
        for event in stored:
            state = aggregate.evolve(state, event)
        events += stored
    return events


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(stream_type=st.sampled_from(sorted(COMMANDS)), data=st.data())
def test_snapshot_plus_later_events_equals_full_replay(
    stream_type: str, data: st.DataObject
) -> None:
    aggregate = _AGGREGATES[stream_type]
    events = _history(aggregate, data.draw)
    full = aggregate.fold(events)
    for cut in range(len(events) + 1):
        snapshot = state_codec.encode(aggregate.fold(events[:cut]))
        state = state_codec.decode(type(full), _json_round_trip(snapshot))
        for event in events[cut:]:
            state = aggregate.evolve(state, event)
        assert state == full
        assert aggregate.view(state) == aggregate.view(full)


class _Stored:
    def __init__(self, event: DomainEvent) -> None:
        self.event_type = event.type_name()
        self.schema_version = event.schema_version
        self.data = _json_round_trip(to_data(event))


def _json_round_trip(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))
