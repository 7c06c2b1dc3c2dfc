"""The reaction framework without a database: which events a reaction gets, and the context its
commands run in (tenant, actor, correlation and causation)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from backend.eventstore import EventStore, RecordedEvent
from backend.reactions.framework import Commands, ReactionSubscription, reaction
from backend.scheduling.events import AppointmentCancelled, AppointmentConfirmed

TENANT = uuid.UUID("00000000-0000-4000-8000-0000000000d4")
T0 = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)
STORE = EventStore(None)  # type: ignore[arg-type]  # never used: no command runs here


def recorded(event_type: str, position: int, **metadata: Any) -> RecordedEvent:
    return RecordedEvent(
        position=position,
        event_id=uuid.uuid4(),
        tenant_id=TENANT,
        stream_type="appointment",
        stream_id=uuid.uuid4(),
        version=2,
        event_type=event_type,
        schema_version=1,
        data={},
        metadata=metadata,
        occurred_at=T0,
        recorded_at=T0,
        tx_id=position,
    )


async def test_a_reaction_gets_only_the_event_types_it_declared() -> None:
    seen: list[tuple[str, str]] = []

    @reaction("watcher", AppointmentConfirmed, AppointmentCancelled)
    async def watch(event: RecordedEvent, commands: Commands) -> None:
        seen.append((event.event_type, commands.reaction))

    assert watch.event_types == {"AppointmentConfirmed", "AppointmentCancelled"}
    subscription = ReactionSubscription(watch, STORE)
    assert subscription.name == "reaction:watcher"
    events = [
        recorded("AppointmentRequested", 1),
        recorded("AppointmentConfirmed", 2),
        recorded("PatientRegistered", 3),
        recorded("AppointmentCancelled", 4),
    ]
    await subscription.apply(None, events)  # type: ignore[arg-type]  # the runner's connection
    assert seen == [("AppointmentConfirmed", "watcher"), ("AppointmentCancelled", "watcher")]


def test_commands_run_in_the_event_tenant_caused_by_it_and_correlated_with_it() -> None:
    event = recorded("AppointmentConfirmed", 7, correlation_id="booking-42")
    ctx = Commands(STORE, "appointment-reminder", event, lambda: T0).context()
    assert ctx.principal.tenant_id == TENANT
    assert ctx.principal.actor == "reaction:appointment-reminder"
    assert ctx.principal.roles == frozenset()
    assert ctx.now == T0
    metadata = ctx.metadata()
    assert metadata["correlation_id"] == "booking-42"
    assert metadata["causation_id"] == str(event.event_id)
    assert metadata["request_id"] != metadata["causation_id"]


def test_an_event_without_correlation_id_correlates_with_itself() -> None:
    event = recorded("AppointmentConfirmed", 8)
    ctx = Commands(STORE, "r", event).context()
    assert ctx.correlation_id == str(event.event_id)
