"""Events of a webhook subscription's stream ("webhook_subscription", one per subscription).
Its signing secret is never in them (backend/webhooks/table.py keeps it, encrypted)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from uuid import UUID

from backend.kernel.events import DomainEvent, register


@register
@dataclass(frozen=True)
class WebhookSubscriptionCreated(DomainEvent):
    """Made by the API key `key_id`, which it belongs to and whose scopes its deliveries have."""

    subscription_id: UUID
    key_id: UUID
    url: str
    types: tuple[str, ...]
    created_at: dt.datetime


@register
@dataclass(frozen=True)
class WebhookSubscriptionDeleted(DomainEvent):
    subscription_id: UUID
    deleted_at: dt.datetime


@register
@dataclass(frozen=True)
class WebhookSubscriptionDisabled(DomainEvent):
    """Deliveries stopped: failed too often in a row (at the event `position`), or the key
    lost the right to receive them. A replay enables it again."""

    subscription_id: UUID
    reason: str
    position: int | None
    disabled_at: dt.datetime


@register
@dataclass(frozen=True)
class WebhookSubscriptionReplayed(DomainEvent):
    """Deliveries start again at the event `from_position` (0: the tenant's first event)."""

    subscription_id: UUID
    from_position: int
    replayed_at: dt.datetime
