"""Notifications, pure rules: templates, quiet hours, contact choice, the outbox's attempts,
backoff and escalation, and the fake channel's deduplication."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest

from backend.kernel.errors import Invalid
from backend.kernel.events import DomainEvent
from backend.notifications import model, templates
from backend.notifications.channels import ChannelError, FakeChannel, Message
from backend.notifications.circumstances import Circumstances
from backend.notifications.events import (
    NotificationAttemptFailed,
    NotificationAttemptStarted,
    NotificationEscalated,
    NotificationQueued,
    NotificationSent,
)
from backend.notifications.model import NOTIFICATION, Contact, Notification, RetryPolicy
from backend.notifications.quiet_hours import QuietHours, outside_quiet_hours

NID = uuid.UUID("00000000-0000-4000-8000-0000000000a1")
PATIENT = uuid.UUID("00000000-0000-4000-8000-0000000000b2")
SOURCE = uuid.UUID("00000000-0000-4000-8000-0000000000c3")
T0 = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(seconds=60)
NIGHT = (dt.time(21, 0), dt.time(8, 0))
HOLDS = Circumstances("active", QuietHours(dt.time(0, 0), dt.time(0, 0), "UTC"))
"""A message (not a reminder) to an active patient, in a tenant without quiet hours."""


def fold(events: list[DomainEvent]) -> Notification:
    return NOTIFICATION.fold(events)


def queued(send_after: dt.datetime = T0) -> list[DomainEvent]:
    return model.queue(
        Notification(),
        NID,
        PATIENT,
        Contact("sms", "+1 555 0100"),
        "r",
        "Hi",
        send_after,
        SOURCE,
        None,
    )


# Templates


def test_template_placeholders_are_checked() -> None:
    events = templates.set_template(
        "reminder", "sms", "Hi {patient_name}, {start} {practitioner_name}"
    )
    assert len(events) == 1
    with pytest.raises(Invalid, match=r"unknown placeholder \{balance\}") as e:
        templates.set_template("reminder", "sms", "Hi {patient_name}, you owe {balance}")
    assert e.value.field == "body"


@pytest.mark.parametrize(
    "body",
    ["{patient_name.__class__}", "{patient_name[0]}", "{0}", "{}", "{__import__}"],
)
def test_attribute_index_and_positional_placeholders_are_unknown(body: str) -> None:
    with pytest.raises(Invalid, match="unknown placeholder"):
        templates.set_template("reminder", "sms", body)


@pytest.mark.parametrize("body", ["{start!r}", "{start:>30}"])
def test_conversions_and_format_specs_are_refused(body: str) -> None:
    with pytest.raises(Invalid, match="no conversion or format"):
        templates.set_template("reminder", "sms", body)


@pytest.mark.parametrize("body", ["Hi {patient_name", "Hi }"])
def test_malformed_braces_are_refused(body: str) -> None:
    with pytest.raises(Invalid, match="malformed braces") as e:
        templates.set_template("reminder", "sms", body)
    assert e.value.field == "body"


def test_template_channel_name_and_blank_body() -> None:
    with pytest.raises(Invalid) as e:
        templates.set_template("reminder", "pigeon", "Hi")
    assert e.value.field == "channel"
    with pytest.raises(Invalid) as e:
        templates.set_template("Bad Name", "sms", "Hi")
    assert e.value.field == "name"
    with pytest.raises(Invalid) as e:
        templates.set_template("reminder", "sms", "   ")
    assert e.value.field == "body"


def test_render_substitutes_values_and_keeps_literal_braces() -> None:
    body = "Hi {patient_name}, see {practitioner_name} at {start} {{not a placeholder}}"
    values = {"patient_name": "Ann Lee", "practitioner_name": "Dr. Grey", "start": "09:00"}
    assert templates.render(body, values) == "Hi Ann Lee, see Dr. Grey at 09:00 {not a placeholder}"


def test_render_leaves_a_known_placeholder_without_value_as_written() -> None:
    assert (
        templates.render("Hi {patient_name} {start}", {"patient_name": "Ann"}) == "Hi Ann {start}"
    )


def test_values_are_never_interpreted() -> None:
    hostile = {"patient_name": "{start.__class__}", "start": "x"}
    assert templates.render("{patient_name}", hostile) == "{start.__class__}"


@pytest.mark.parametrize("name", sorted(templates.DEFAULTS))
def test_each_default_names_exactly_the_placeholders_it_is_rendered_with(name: str) -> None:
    default = templates.DEFAULTS[name]
    known = templates.PLACEHOLDERS_OF[name]
    assert set(templates.placeholders(default.body, known)) == known
    assert templates.set_template(name, default.channel, default.body)


def test_a_built_in_template_refuses_the_placeholders_of_another() -> None:
    with pytest.raises(Invalid, match=r"unknown placeholder \{amount\}") as e:
        templates.set_template(templates.APPOINTMENT_REMINDER, "sms", "Pay {amount}")
    assert e.value.field == "body"
    with pytest.raises(Invalid, match=r"unknown placeholder \{start\}"):
        templates.set_template(templates.PAYMENT_RECEIPT, "sms", "Paid at {start}")
    receipt = "{patient_name}: {amount} {currency} on {invoice_id}"
    assert templates.set_template(templates.PAYMENT_RECEIPT, "email", receipt)
    assert templates.set_template("custom", "sms", "{start} {amount}")


# Quiet hours


def at(local: str, zone: str) -> dt.datetime:
    return dt.datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone))


def test_outside_quiet_hours_is_unchanged() -> None:
    due = at("2026-05-04T12:00", "Europe/Berlin")
    assert outside_quiet_hours(due, *NIGHT, "Europe/Berlin") == due


def test_window_crossing_midnight_before_midnight_moves_to_next_morning() -> None:
    due = at("2026-05-04T22:30", "Europe/Berlin")
    moved = outside_quiet_hours(due, *NIGHT, "Europe/Berlin")
    assert moved == at("2026-05-05T08:00", "Europe/Berlin")
    assert moved.tzinfo == dt.UTC
    assert moved == dt.datetime(2026, 5, 5, 6, 0, tzinfo=dt.UTC)  # CEST is UTC+2


def test_window_crossing_midnight_after_midnight_moves_to_same_morning() -> None:
    due = at("2026-05-05T03:15", "Europe/Berlin")
    assert outside_quiet_hours(due, *NIGHT, "Europe/Berlin") == at(
        "2026-05-05T08:00", "Europe/Berlin"
    )


def test_window_edges_start_is_quiet_end_is_not() -> None:
    start = at("2026-05-04T21:00", "Europe/Berlin")
    assert outside_quiet_hours(start, *NIGHT, "Europe/Berlin") == at(
        "2026-05-05T08:00", "Europe/Berlin"
    )
    end = at("2026-05-05T08:00", "Europe/Berlin")
    assert outside_quiet_hours(end, *NIGHT, "Europe/Berlin") == end


def test_quiet_hours_are_read_in_the_tenant_time_zone() -> None:
    """22:00 UTC is quiet in UTC but mid-afternoon in Los Angeles, and the next morning's 07:00
    in Tokyo (quiet, ends at 08:00 Tokyo = 23:00 UTC)."""
    due = dt.datetime(2026, 1, 10, 22, 0, tzinfo=dt.UTC)
    assert outside_quiet_hours(due, *NIGHT, "UTC") == dt.datetime(2026, 1, 11, 8, tzinfo=dt.UTC)
    assert outside_quiet_hours(due, *NIGHT, "America/Los_Angeles") == due
    assert outside_quiet_hours(due, *NIGHT, "Asia/Tokyo") == dt.datetime(
        2026, 1, 10, 23, tzinfo=dt.UTC
    )


def test_a_daytime_window() -> None:
    lunch = (dt.time(12, 0), dt.time(13, 30))
    due = at("2026-05-04T12:45", "Asia/Kolkata")
    assert outside_quiet_hours(due, *lunch, "Asia/Kolkata") == at(
        "2026-05-04T13:30", "Asia/Kolkata"
    )
    before = at("2026-05-04T11:59", "Asia/Kolkata")
    assert outside_quiet_hours(before, *lunch, "Asia/Kolkata") == before


def test_equal_start_and_end_mean_no_quiet_hours() -> None:
    due = at("2026-05-04T03:00", "UTC")
    assert outside_quiet_hours(due, dt.time(0, 0), dt.time(0, 0), "UTC") == due


def test_quiet_hours_end_across_a_daylight_saving_change() -> None:
    """The night Berlin moves to summer time: 08:00 local is 06:00 UTC, not 07:00."""
    due = dt.datetime(2026, 3, 28, 23, 0, tzinfo=dt.UTC)  # 00:00 CET on the 29th
    assert outside_quiet_hours(due, *NIGHT, "Europe/Berlin") == dt.datetime(
        2026, 3, 29, 6, 0, tzinfo=dt.UTC
    )


# Contact


def test_contact_prefers_the_template_channel_then_sms_then_email() -> None:
    assert model.contact_for("sms", "+1 555", "a@b.c") == Contact("sms", "+1 555")
    assert model.contact_for("whatsapp", "+1 555", None) == Contact("whatsapp", "+1 555")
    assert model.contact_for("email", "+1 555", "a@b.c") == Contact("email", "a@b.c")
    assert model.contact_for("email", "+1 555", None) == Contact("sms", "+1 555")
    assert model.contact_for("sms", None, "a@b.c") == Contact("email", "a@b.c")
    assert model.contact_for("sms", None, None) == Contact(None, None)


# The outbox


def test_queue_is_idempotent() -> None:
    state = fold(queued())
    assert (state.status, state.due_at) == ("queued", T0)
    again = model.queue(state, NID, PATIENT, Contact("sms", "x"), "r", "Hi", T0, SOURCE, None)
    assert again == []


def test_no_contact_is_escalated_at_once() -> None:
    events = model.queue(
        Notification(), NID, PATIENT, Contact(None, None), "r", "Hi", T0, SOURCE, None
    )
    assert [type(e) for e in events] == [NotificationQueued, NotificationEscalated]
    assert isinstance(events[1], NotificationEscalated) and events[1].reason == "no contact"
    state = fold(events)
    assert (state.status, state.due_at) == ("escalated", None)


def test_the_notification_id_follows_from_source_and_template() -> None:
    # Pinned: an id that changed between releases would queue a redelivered event's message again.
    assert model.notification_id(SOURCE, "r") == uuid.UUID("d4cb0830-a885-5334-9238-3f1d19921333")
    assert model.notification_id(SOURCE, "r") != model.notification_id(SOURCE, "other")
    assert model.notification_id(SOURCE, "r") != model.notification_id(NID, "r")


def test_a_message_whose_recipient_was_erased_goes_to_the_front_desk_unsent() -> None:
    redacted = dataclasses.replace(fold(queued()), address=None, body="[erased]")
    erased = dataclasses.replace(HOLDS, patient="erased")
    [event] = model.start_attempt(redacted, T0, LEASE, erased)
    assert event == NotificationEscalated(NID, "recipient erased")
    assert fold([*queued(), event]).due_at is None


def test_nothing_is_started_before_send_after() -> None:
    state = fold(queued(T0 + dt.timedelta(minutes=5)))
    assert model.start_attempt(state, T0, LEASE, HOLDS) == []
    started = model.start_attempt(state, T0 + dt.timedelta(minutes=5), LEASE, HOLDS)
    assert started == [NotificationAttemptStarted(NID, 1, T0 + dt.timedelta(minutes=5) + LEASE)]


def test_an_attempt_in_flight_is_left_alone_until_its_lease_runs_out() -> None:
    events = queued() + model.start_attempt(fold(queued()), T0, LEASE, HOLDS)
    state = fold(events)
    assert (state.status, state.attempts, state.due_at) == ("sending", 1, T0 + LEASE)
    assert model.start_attempt(state, T0 + LEASE - dt.timedelta(seconds=1), LEASE, HOLDS) == []
    resumed = model.start_attempt(state, T0 + LEASE, LEASE, HOLDS)
    assert resumed == [NotificationAttemptStarted(NID, 1, T0 + 2 * LEASE)]  # the same attempt


def test_sent_is_recorded_once() -> None:
    events = [*queued(), NotificationAttemptStarted(NID, 1, T0 + LEASE)]
    sent = model.record_sent(fold(events), 1, "sms-1")
    assert sent == [NotificationSent(NID, 1, "sms-1")]
    state = fold(events + sent)
    assert (state.status, state.provider_message_id, state.due_at) == ("sent", "sms-1", None)
    assert model.record_sent(state, 1, "sms-1") == []
    assert model.start_attempt(state, T0 + dt.timedelta(days=1), LEASE, HOLDS) == []


def test_backoff_schedule() -> None:
    retry = RetryPolicy()
    assert retry.next_attempt_at(1, T0) == T0 + dt.timedelta(seconds=30)
    assert retry.next_attempt_at(2, T0) == T0 + dt.timedelta(minutes=2)
    assert retry.next_attempt_at(3, T0) is None
    longer = RetryPolicy(max_attempts=5, first_delay=dt.timedelta(seconds=1), factor=2)
    delays = [longer.next_attempt_at(n, T0) for n in range(1, 6)]
    assert delays == [T0 + dt.timedelta(seconds=s) for s in (1, 2, 4, 8)] + [None]


def test_escalation_after_three_failed_attempts() -> None:
    retry = RetryPolicy()
    events = queued()
    now = T0
    for attempt in (1, 2, 3):
        state = fold(events)
        assert state.due_at is not None
        now = state.due_at
        events += model.start_attempt(state, now, LEASE, HOLDS)
        assert fold(events).attempts == attempt
        events += model.record_failure(fold(events), attempt, "ChannelError: down", now, retry)
    assert [type(e) for e in events[-2:]] == [NotificationAttemptFailed, NotificationEscalated]
    failures = [e for e in events if isinstance(e, NotificationAttemptFailed)]
    waits = [f.next_attempt_at for f in failures]
    assert waits[2] is None
    assert waits[0] is not None and waits[1] is not None
    assert waits[1] - waits[0] == dt.timedelta(minutes=2)
    state = fold(events)
    assert state.status == "escalated"
    assert state.escalation_reason == "3 failed attempts; last error: ChannelError: down"
    assert model.start_attempt(state, now + dt.timedelta(days=1), LEASE, HOLDS) == []


def test_a_failure_of_a_stale_attempt_changes_nothing() -> None:
    events = [*queued(), NotificationAttemptStarted(NID, 1, T0 + LEASE)]
    events += model.record_sent(fold(events), 1, "sms-1")
    assert model.record_failure(fold(events), 1, "late timeout", T0, RetryPolicy()) == []


# The fake channel


async def test_fake_channel_deduplicates_on_the_idempotency_key() -> None:
    channel = FakeChannel("sms")
    message = Message("sms", "+1 555", "Hi")
    first = await channel.send(message, "n:1")
    assert await channel.send(message, "n:1") == first
    second = await channel.send(message, "n:2")
    assert second != first
    assert [d.idempotency_key for d in channel.delivered] == ["n:1", "n:2"]


async def test_fake_channel_fails_n_times_then_delivers() -> None:
    channel = FakeChannel("email")
    channel.fail_next(2)
    message = Message("email", "a@b.c", "Hi")
    for _ in range(2):
        with pytest.raises(ChannelError):
            await channel.send(message, "n:1")
    assert channel.delivered == []
    assert await channel.send(message, "n:1") == "email-1"
    assert len(channel.delivered) == 1
