"""A webhook subscription (pure): made by a partner's API key for a URL and event types,
deleted by it or by a clinic admin, disabled by the dispatcher when deliveries keep failing,
replayed (and so enabled again) from a position of the tenant's events."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from backend.auth.principal import Principal
from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent, event_class
from backend.webhooks.events import (
    WebhookSubscriptionCreated,
    WebhookSubscriptionDeleted,
    WebhookSubscriptionDisabled,
    WebhookSubscriptionReplayed,
)

MAX_TYPES = 100
PRIVATE_PREFIXES = ("ApiKey", "WebhookSubscription")
"""Event types no subscription receives: the tenant's partner set-up (other partners' keys and
URLs) is the clinic's business."""

ACTIVE, DISABLED, DELETED = "active", "disabled", "deleted"


@dataclass(frozen=True)
class Subscription:
    id: UUID | None = None
    key_id: UUID | None = None
    url: str = ""
    types: tuple[str, ...] = ()
    state: str = ""
    created_at: dt.datetime | None = None
    disabled_reason: str | None = None
    disabled_at: dt.datetime | None = None
    deleted_at: dt.datetime | None = None

    @property
    def exists(self) -> bool:
        return self.id is not None


def evolve(state: Subscription, event: DomainEvent) -> Subscription:
    match event:
        case WebhookSubscriptionCreated():
            return Subscription(
                event.subscription_id,
                event.key_id,
                event.url,
                event.types,
                ACTIVE,
                event.created_at,
            )
        case WebhookSubscriptionDeleted():
            return dataclasses.replace(state, state=DELETED, deleted_at=event.deleted_at)
        case WebhookSubscriptionDisabled():
            return dataclasses.replace(
                state, state=DISABLED, disabled_reason=event.reason, disabled_at=event.disabled_at
            )
        case WebhookSubscriptionReplayed():
            return dataclasses.replace(state, state=ACTIVE, disabled_reason=None, disabled_at=None)
    return state


def view(state: Subscription) -> dict[str, Any]:
    return {
        "key_id": state.key_id,
        "url": state.url,
        "types": list(state.types),
        "state": state.state,
        "created_at": state.created_at,
        "disabled_reason": state.disabled_reason,
        "disabled_at": state.disabled_at,
    }


SUBSCRIPTION = register_aggregate(Aggregate("webhook_subscription", Subscription, evolve, view))


def deliverable(event_type: str) -> bool:
    try:
        event_class(event_type)
    except KeyError:
        return False
    return not event_type.startswith(PRIVATE_PREFIXES)


def create(
    state: Subscription,
    subscription_id: UUID,
    key_id: UUID,
    url: str,
    types: list[str],
    now: dt.datetime,
) -> list[DomainEvent]:
    """`url` has been checked already (backend/webhooks/addresses.py: it needs DNS)."""
    if state.exists:
        raise Conflict("SUBSCRIPTION_EXISTS", f"subscription {subscription_id} exists")
    if not types:
        raise Invalid("types", "at least one event type")
    unknown = sorted(t for t in set(types) if not deliverable(t))
    if unknown:
        raise Invalid("types", f"{unknown[0]!r} is not an event type a subscription receives")
    chosen = tuple(sorted(set(types)))
    return [WebhookSubscriptionCreated(subscription_id, key_id, url, chosen, now)]


def delete(state: Subscription, now: dt.datetime) -> list[DomainEvent]:
    """Deleting a deleted subscription records nothing."""
    assert state.id is not None
    return [] if state.state == DELETED else [WebhookSubscriptionDeleted(state.id, now)]


def disable(
    state: Subscription, reason: str, position: int | None, now: dt.datetime
) -> list[DomainEvent]:
    """Only an active subscription is disabled (a deleted one stays deleted)."""
    assert state.id is not None
    if state.state != ACTIVE:
        return []
    return [WebhookSubscriptionDisabled(state.id, reason, position, now)]


def replay(state: Subscription, from_position: int, now: dt.datetime) -> list[DomainEvent]:
    assert state.id is not None
    if state.state == DELETED:
        raise Conflict("SUBSCRIPTION_DELETED", "a deleted subscription cannot be replayed")
    if from_position < 0:
        raise Invalid("from_position", "0 (the first event) or a position of the tenant's events")
    return [WebhookSubscriptionReplayed(state.id, from_position, now)]


def visible_to(state: Subscription, principal: Principal, subscription_id: UUID) -> None:
    """A key manages the subscriptions it made; a clinic admin (no key) all of the tenant's.
    Anything else reads as absent (NOT_FOUND), as another tenant's would."""
    if not state.exists or (principal.key_id is not None and principal.key_id != state.key_id):
        raise NotFound(f"subscription {subscription_id} not found")
