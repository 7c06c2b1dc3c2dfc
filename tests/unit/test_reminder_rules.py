"""Whether a message still holds when it is sent (pure): a reminder follows its appointment and
its patient, quiet hours are the policy's at sending, and a withdrawal that meets an attempt in
flight."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest

from backend.kernel.events import DomainEvent
from backend.notifications import model
from backend.notifications.circumstances import (
    Appointment,
    Circumstances,
    reason_to_withdraw,
)
from backend.notifications.events import (
    NotificationAttemptStarted,
    NotificationDeferred,
    NotificationEscalated,
    NotificationSent,
    NotificationWithdrawn,
)
from backend.notifications.model import NOTIFICATION, Contact, Notification, RetryPolicy
from backend.notifications.quiet_hours import QuietHours
from backend.patients.model import Status

NID = uuid.UUID("00000000-0000-4000-8000-0000000000a1")
PATIENT = uuid.UUID("00000000-0000-4000-8000-0000000000b2")
SOURCE = uuid.UUID("00000000-0000-4000-8000-0000000000c3")
APPOINTMENT = uuid.UUID("00000000-0000-4000-8000-0000000000d4")
NEW_YORK = ZoneInfo("America/New_York")
LEASE = dt.timedelta(seconds=60)
NONE = QuietHours(dt.time(0, 0), dt.time(0, 0), "UTC")
NIGHT = QuietHours(dt.time(21, 0), dt.time(8, 0), "America/New_York")


def local(moment: str) -> dt.datetime:
    return dt.datetime.fromisoformat(moment).replace(tzinfo=NEW_YORK).astimezone(dt.UTC)


EVENING = local("2026-11-30T22:30")
START = local("2026-12-01T10:00")


def reminder(send_after: dt.datetime = EVENING) -> list[DomainEvent]:
    contact = Contact("sms", "+1 212 555 0101")
    return model.queue(
        Notification(), NID, PATIENT, contact, "r", "Hi", send_after, SOURCE, APPOINTMENT
    )


def fold(events: list[DomainEvent]) -> Notification:
    return NOTIFICATION.fold(events)


def facts(
    status: str = "confirmed",
    start: dt.datetime = START,
    *,
    patient: Status = "active",
    inpatient: bool = False,
    quiet: QuietHours = NONE,
) -> Circumstances:
    return Circumstances(patient, quiet, Appointment(status, start), inpatient)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("cancelled", "appointment cancelled"),
        ("checked_in", "patient checked in"),
        ("completed", "appointment completed"),
        ("no_show", "patient did not come (no-show)"),
    ],
)
def test_a_reminder_of_an_ended_appointment_is_withdrawn_not_sent(status: str, reason: str) -> None:
    assert reason_to_withdraw(facts(status), EVENING) == reason
    events = model.start_attempt(fold(reminder()), EVENING, LEASE, facts(status))
    assert events == [NotificationWithdrawn(NID, reason, None)]
    state = fold([*reminder(), *events])
    assert (state.status, state.withdrawal_reason, state.due_at) == ("withdrawn", reason, None)


def test_a_reminder_whose_appointment_has_started_is_withdrawn() -> None:
    """Say a failed attempt's retry comes due only after the start."""
    assert reason_to_withdraw(facts(start=EVENING), EVENING) == "appointment started"
    assert reason_to_withdraw(facts(start=EVENING), EVENING - dt.timedelta(seconds=1)) is None


def test_an_inpatient_and_a_deceased_patient_get_no_reminder() -> None:
    assert reason_to_withdraw(facts(inpatient=True), EVENING) == "patient admitted"
    assert reason_to_withdraw(facts(patient="deceased"), EVENING) == "patient deceased"


def test_other_messages_skip_deceased_patients_but_not_inpatients() -> None:
    receipt = Circumstances("active", NONE, None, inpatient=True)
    assert reason_to_withdraw(receipt, EVENING) is None
    died = Circumstances("deceased", NONE)
    assert reason_to_withdraw(died, EVENING) == "patient deceased"


def test_an_erased_recipient_goes_to_the_front_desk() -> None:
    events = model.start_attempt(fold(reminder()), EVENING, LEASE, facts(patient="erased"))
    assert events == [NotificationEscalated(NID, "recipient erased")]


@pytest.mark.parametrize("visit", ["05:30", "06:20", "07:20", "08:00"])
def test_quiet_hours_that_last_past_the_visit_withdraw_its_reminder(visit: str) -> None:
    """The issue's New York mornings: reminders due at 22:30 the evening before, quiet until
    08:00, for visits at 05:30, 06:20 and 07:20 (and one at 08:00 sharp)."""
    start = local(f"2026-12-01T{visit}")
    events = model.start_attempt(fold(reminder()), EVENING, LEASE, facts(start=start, quiet=NIGHT))
    assert events == [NotificationWithdrawn(NID, "quiet hours last until after the start", None)]


def test_a_reminder_due_in_quiet_hours_waits_for_their_end_as_the_policy_says_when_due() -> None:
    events = model.start_attempt(fold(reminder()), EVENING, LEASE, facts(quiet=NIGHT))
    assert events == [NotificationDeferred(NID, local("2026-12-01T08:00"))]
    state = fold([*reminder(), *events])
    assert (state.status, state.due_at) == ("queued", local("2026-12-01T08:00"))
    assert model.start_attempt(state, local("2026-12-01T07:59"), LEASE, facts(quiet=NIGHT)) == []
    at_eight = local("2026-12-01T08:00")
    started = model.start_attempt(state, at_eight, LEASE, facts(quiet=NIGHT))
    assert started == [NotificationAttemptStarted(NID, 1, at_eight + LEASE)]
    # The same message under a policy changed to no quiet hours goes out at once.
    now = model.start_attempt(fold(reminder()), EVENING, LEASE, facts(quiet=NONE))
    assert now == [NotificationAttemptStarted(NID, 1, EVENING + LEASE)]


def test_a_retry_due_in_quiet_hours_waits_too() -> None:
    afternoon = local("2026-11-30T20:59")
    events = reminder(afternoon)
    events += model.start_attempt(fold(events), afternoon, LEASE, facts(quiet=NIGHT))
    failed_at = afternoon + dt.timedelta(seconds=50)
    events += model.record_failure(fold(events), 1, "down", failed_at, RetryPolicy())
    retry_at = fold(events).next_attempt_at
    assert retry_at == local("2026-11-30T21:00:20")
    deferred = model.start_attempt(fold(events), retry_at, LEASE, facts(quiet=NIGHT))
    assert deferred == [NotificationDeferred(NID, local("2026-12-01T08:00"))]
    state = fold(events + deferred)
    assert (state.status, state.due_at) == ("failed", local("2026-12-01T08:00"))


def test_a_lease_taken_over_in_quiet_hours_repeats_its_attempt() -> None:
    """The attempt began before the quiet hours; the provider may have it already."""
    before = local("2026-11-30T20:59")
    events = reminder(before)
    events += model.start_attempt(fold(events), before, LEASE, facts(quiet=NIGHT))
    resumed = model.start_attempt(fold(events), before + LEASE, LEASE, facts(quiet=NIGHT))
    assert resumed == [NotificationAttemptStarted(NID, 1, before + 2 * LEASE)]


# A withdrawal and the dispatcher


def sending() -> list[DomainEvent]:
    return [*reminder(), NotificationAttemptStarted(NID, 1, EVENING + LEASE)]


def test_a_withdrawal_before_any_attempt_stops_the_message() -> None:
    withdrawn = model.withdraw(fold(reminder()), "appointment cancelled")
    assert withdrawn == [NotificationWithdrawn(NID, "appointment cancelled", None)]
    state = fold([*reminder(), *withdrawn])
    assert model.start_attempt(state, START, LEASE, facts()) == []
    assert model.withdraw(state, "again") == []


def test_a_withdrawal_during_an_attempt_stops_the_sender_that_has_not_sent_yet() -> None:
    withdrawn = model.withdraw(fold(sending()), "appointment cancelled")
    assert withdrawn == [NotificationWithdrawn(NID, "appointment cancelled", 1)]
    state = fold(sending() + withdrawn)
    assert not model.in_flight(state, 1)  # the dispatcher's last look says: do not send
    assert state.due_at is None  # and no one takes the lease over
    assert model.record_failure(state, 1, "timeout", EVENING, RetryPolicy()) == []


def test_a_withdrawal_that_came_after_the_channel_took_the_message_is_recorded_as_sent() -> None:
    events = sending() + model.withdraw(fold(sending()), "appointment cancelled")
    sent = model.record_sent(fold(events), 1, "sms-7")
    assert sent == [NotificationSent(NID, 1, "sms-7")]
    state = fold(events + sent)
    assert (state.status, state.provider_message_id) == ("sent", "sms-7")
    assert state.withdrawal_reason == "appointment cancelled"
    assert model.record_sent(state, 1, "sms-7") == []
    assert model.record_sent(fold(events), 2, "sms-8") == []  # not the attempt in flight


def test_the_last_look_before_sending_withdraws_what_no_longer_holds() -> None:
    state = fold(sending())
    assert model.in_flight(state, 1)
    assert model.instead_of_sending(state, EVENING, facts()) == []
    instead = model.instead_of_sending(state, EVENING, facts("cancelled"))
    assert instead == [NotificationWithdrawn(NID, "appointment cancelled", 1)]


def test_a_sent_or_escalated_message_is_not_withdrawn() -> None:
    sent = [*sending(), NotificationSent(NID, 1, "sms-1")]
    assert model.withdraw(fold(sent), "appointment cancelled") == []
    escalated = [*reminder(), NotificationEscalated(NID, "no contact")]
    assert model.withdraw(fold(escalated), "appointment cancelled") == []
