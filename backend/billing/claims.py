"""Claims on providers' payment ids: one tenant per provider payment id, across tenants.

The payment stream's id derives from the provider and its payment id, but streams are unique per
tenant only: without this a second tenant's webhook naming an id already captured for another
tenant would record a second capture of the same money. `payment_claims` has the provider's id as
its primary key, and RLS lets each tenant see only its own claims; the unique index still holds
across tenants, so a claim is an INSERT that does nothing when any tenant holds the id.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg


async def claim(
    conn: asyncpg.Connection,
    tenant_id: UUID,
    provider: str,
    provider_payment_id: str,
    payment_id: UUID,
) -> bool:
    """Claim the id for the transaction's tenant; False when another tenant holds it.

    Written in the capture's transaction: a concurrent claim by another tenant waits for this
    one to commit or roll back. Call it after loading the streams the capture appends to (the
    first write gives the transaction its id; see docs/architecture.md)."""
    claimed = await conn.fetchval(
        "INSERT INTO payment_claims (provider, provider_payment_id, tenant_id, payment_id)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true",
        provider,
        provider_payment_id,
        tenant_id,
        payment_id,
    )
    if claimed:
        return True
    ours = await conn.fetchval(  # RLS: only this tenant's claim can be found
        "SELECT true FROM payment_claims WHERE provider = $1 AND provider_payment_id = $2",
        provider,
        provider_payment_id,
    )
    return bool(ours)
