"""Command handlers of webhook subscriptions: each folds the subscription's stream, decides,
and writes `webhook_subscriptions` (table.py) in the same transaction as its events."""

from __future__ import annotations

import dataclasses
from uuid import UUID

from backend.handling import CommandResult, CommandSession, Loaded
from backend.kernel.errors import Conflict, Invalid
from backend.webhooks import model, table
from backend.webhooks.events import WebhookSubscriptionCreated
from backend.webhooks.model import SUBSCRIPTION

MAX_PER_KEY = 20


async def create(
    session: CommandSession,
    subscription_id: UUID,
    key_id: UUID,
    url: str,
    types: list[str],
    secret_key: bytes,
    secret: str | None,
) -> CommandResult:
    """`secret`: the generated secret, shown in this response only (None: the partner gave
    its own, which is not repeated)."""
    if await table.count_of_key(session.conn, key_id) >= MAX_PER_KEY:
        raise Conflict(
            "TOO_MANY_SUBSCRIPTIONS", f"an API key holds at most {MAX_PER_KEY} subscriptions"
        )
    loaded = session.new(SUBSCRIPTION, subscription_id)
    now = session.ctx.now
    events = model.create(loaded.state, subscription_id, key_id, url, types, now)
    result = await session.save(loaded, events)
    created = events[0]
    assert isinstance(created, WebhookSubscriptionCreated)
    await table.store(
        session.conn,
        session.tenant_id,
        subscription_id,
        key_id,
        url,
        created.types,
        secret_key,
        now,
        result.position,
    )
    return await _shown(session, result, None if secret is None else {"secret": secret})


async def delete(session: CommandSession, subscription_id: UUID) -> CommandResult:
    loaded = await _visible(session, subscription_id)
    events = model.delete(loaded.state, session.ctx.now)
    if events:
        await table.set_state(session.conn, subscription_id, model.DELETED, None)
    return await _shown(session, await session.save(loaded, events))


async def replay(
    session: CommandSession, subscription_id: UUID, from_position: int
) -> CommandResult:
    loaded = await _visible(session, subscription_id)
    events = model.replay(loaded.state, from_position, session.ctx.now)
    place = await table.place_before(session.conn, from_position)
    if place is None:
        raise Invalid("from_position", "0 (the first event) or a position of the tenant's events")
    await table.replay_from(session.conn, subscription_id, place)
    return await _shown(session, await session.save(loaded, events))


async def disable(
    session: CommandSession, subscription_id: UUID, reason: str, position: int | None
) -> None:
    """The dispatcher's: deliveries stop, with the reason shown to the partner."""
    loaded = await session.load(SUBSCRIPTION, subscription_id)
    events = model.disable(loaded.state, reason, position, session.ctx.now)
    if events:
        await table.set_state(session.conn, subscription_id, model.DISABLED, reason)
        await session.save(loaded, events)


async def _visible(session: CommandSession, subscription_id: UUID) -> Loaded[model.Subscription]:
    loaded = await session.load(SUBSCRIPTION, subscription_id, conditional=True)
    model.visible_to(loaded.state, session.ctx.principal, subscription_id)
    return loaded


async def _shown(
    session: CommandSession, result: CommandResult, shown_once: dict[str, str] | None = None
) -> CommandResult:
    """The response is the subscription as listed, with its delivery progress."""
    view = await table.delivery_of(session.conn, result.id)
    del view["id"]
    return dataclasses.replace(result, view=view, shown_once=shown_once)
