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
from backend.admissions import wards
from backend.admissions.stays import STAY, Stay
from backend.admissions.wards import Ward
from backend.billing import model as billing
from backend.billing import payment as payments
from backend.encounters import model as visits
from backend.encounters.vitals import Readings
from backend.kernel import state_codec
from backend.kernel.aggregate import _AGGREGATES, Aggregate
from backend.kernel.errors import DomainError
from backend.kernel.events import DomainEvent, revive, to_data
from backend.notifications import model as notifications
from backend.notifications import templates
from backend.patients import model as patients
from backend.plugins import capture, workflows
from backend.plugins.loading import load_plugin
from backend.plugins.registry import DEFAULT_DIR as PLUGINS_DIR
from backend.scheduling import model as scheduling
from backend.scheduling.schedule import SCHEDULE, DaySchedule
from backend.tenancy import model as tenancy

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
                st.dictionaries(st.sampled_from("xyz"), st.integers(-(2**53), 2**53), max_size=2)
            ),
        }
        return patients.register_patient(state, ID, details, TODAY)

    def change(state: Any, draw: Draw) -> list[DomainEvent]:
        field = draw(st.sampled_from(["given_name", "family_name", "phone", "birth_date"]))
        value: Any = (
            draw(st.dates(dt.date(1900, 1, 1), TODAY))
            if field == "birth_date"
            else (draw(names) if field != "phone" else draw(st.none() | st.just("+1 555 0100")))
        )
        return patients.change_details(state, {field: value}, TODAY)

    def calculate(state: Any, draw: Draw) -> list[DomainEvent]:
        values = {"weight_kg": draw(st.integers(40, 150)), "height_cm": 170}
        return capture.patient_data(PLUGINS, {}, {"orthopedics": values}, {}, {}).events

    return [register, change, change, calculate]


def _appointment_commands() -> list[Command]:
    window = scheduling.CheckinWindow(dt.timedelta(minutes=30), dt.timedelta(hours=2))

    def request(state: Any, draw: Draw) -> list[DomainEvent]:
        start = draw(moments)
        end = start + dt.timedelta(minutes=30)
        decided = scheduling.request(state, ID, ID, ID, start, end, draw(st.none() | names), {})
        return decided[ID]

    def check_in(state: Any, draw: Draw) -> list[DomainEvent]:
        return scheduling.check_in(state, draw(moments), window, draw(st.none() | names), True)

    return [
        request,
        lambda s, d: scheduling.confirm(s),
        lambda s, d: scheduling.cancel(s, d(names)),
        check_in,
        lambda s, d: scheduling.complete(s),
        lambda s, d: scheduling.mark_no_show(s, d(moments)),
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
    appointments = [uuid.UUID(int=n) for n in range(1, 6)]

    def reserve(state: DaySchedule, draw: Draw) -> list[DomainEvent]:
        start = draw(moments)
        appointment = draw(st.sampled_from(appointments))
        decided = scheduling.request(
            scheduling.Appointment(),
            appointment,
            ID,
            ID,
            start,
            start + dt.timedelta(hours=1),
            None,
            {ID: state},
        )
        return decided[ID]

    def release(state: DaySchedule, draw: Draw) -> list[DomainEvent]:
        if not state.slots:
            return []
        appointment = draw(st.sampled_from(sorted(state.slots)))
        held = scheduling.Appointment(appointment, practitioner_id=ID)
        return [scheduling.release(held)]

    return [reserve, release]


PLUGINS = {name: load_plugin(PLUGINS_DIR / name) for name in ("cardiac", "orthopedics")}


def _specialty_commands(target: str) -> list[Command]:
    """Specialty data (with the calculations it triggers) and specialty events."""

    def data(state: Any, draw: Draw) -> list[DomainEvent]:
        values = {"weight_kg": draw(st.integers(40, 150)), "height_cm": draw(st.integers(150, 200))}
        return capture.stream_data(PLUGINS, target, state, {"orthopedics": values}, {}, {}).events

    def event(state: Any, draw: Draw) -> list[DomainEvent]:
        outcome = draw(st.sampled_from(["completed", "abandoned"]))
        fields = {"access_site": "radial", "outcome": outcome, "ejection_fraction": 41.5}
        return capture.specialty_event(
            PLUGINS["cardiac"], target, state, "catheterization", fields, ID, BASE, {}, {}
        ).events

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
    note = st.fixed_dictionaries({s: names for s in visits.NOTE_SECTIONS})
    order = uuid.UUID(int=7)

    def open_visit(state: Any, draw: Draw) -> list[DomainEvent]:
        return visits.open_visit(state, ID, ID, ID, None, None, draw(st.none() | names), BASE)

    def vitals(state: Any, draw: Draw) -> list[DomainEvent]:
        readings = Readings(
            heart_rate=draw(st.integers(20, 300)), spo2=draw(st.none() | st.integers(50, 100))
        )
        return visits.record_vitals(state, draw(moments), readings)

    return [
        open_visit,
        lambda s, d: visits.draft_note(s, d(note)),
        lambda s, d: visits.add_service(s, "CONS", d(names), d(st.integers(1, 3)), "12.50"),
        lambda s, d: visits.sign_off(s, str(ID), True),
        lambda s, d: visits.add_addendum(s, d(names), "doc", d(moments)),
        vitals,
        lambda s, d: visits.issue_prescription(
            s, ID, d(names), "1 tab", "oral", "daily", None, "doc"
        ),
        lambda s, d: visits.order_lab(s, order, "CBC", d(names), d(moments)),
        lambda s, d: visits.collect_specimen(s, order, d(moments)),
        lambda s, d: visits.report_result(
            s, order, "13", None, None, d(st.booleans()), None, d(moments)
        ),
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
        return admissions.discharge(state, disposition, None, LATER).admission

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
        return admissions.discharge(admission, "home", None, LATER).wards[ID]

    return [
        lambda s, d: wards.define(s, ID, d(names), list(BEDS[:2])),
        lambda s, d: wards.add_beds(s, ["A3"]),
        occupy,
        release,
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
        return admissions.discharge(admission, "home", None, LATER).stay

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
        return notifications.queue(state, ID, ID, contact, "reminder", d_body(draw), BASE, ID)

    def fail(state: Any, draw: Draw) -> list[DomainEvent]:
        retry = notifications.RetryPolicy()
        return notifications.record_failure(state, state.attempts, draw(names), LATER, retry)

    return [
        queue,
        lambda s, d: notifications.start_attempt(s, LATER, dt.timedelta(seconds=60)),
        lambda s, d: notifications.record_sent(s, s.attempts, d(names)),
        fail,
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
        return [payments.refund(state, ID, refund_id, amount, draw(names), "gw-1")]

    return [capture, refund]


COMMANDS: dict[str, Callable[[], list[Command]]] = {
    billing.INVOICE.stream_type: _invoice_commands,
    payments.PAYMENT.stream_type: _payment_commands,
    notifications.NOTIFICATION.stream_type: _notification_commands,
    templates.TEMPLATE.stream_type: _template_commands,
    admissions.ADMISSION.stream_type: _admission_commands,
    wards.WARD.stream_type: _ward_commands,
    STAY.stream_type: _stay_commands,
    visits.VISIT.stream_type: _visit_commands,
    workflows.CHECKLIST.stream_type: _checklist_commands,
    patients.PATIENT.stream_type: _patient_commands,
    scheduling.APPOINTMENT.stream_type: _appointment_commands,
    tenancy.TENANT.stream_type: _tenant_commands,
    tenancy.PRACTITIONER.stream_type: _practitioner_commands,
    SCHEDULE.stream_type: _schedule_commands,
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
