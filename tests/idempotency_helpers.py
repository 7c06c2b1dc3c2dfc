"""Helpers for the Idempotency-Key tests: keyed headers and the stored rows as the owner sees
them (RLS forced: the owner sets the tenant too)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from e2e_helpers import assert_problem

from backend.eventstore.db import connect

SET_TENANT = "SELECT set_config('app.tenant_id', $1, false)"


def keyed(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    """The headers with an Idempotency-Key (a fresh one unless given)."""
    return {**headers, "Idempotency-Key": key or f"k-{uuid.uuid4()}"}


async def stored_rows(owner_dsn: str, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    """The tenant's idempotency_keys rows, oldest first."""
    conn = await connect(owner_dsn)
    try:
        await conn.execute(SET_TENANT, str(tenant_id))
        rows = await conn.fetch(
            "SELECT actor, key, request_hash, status_code, response, headers,"
            " patient_id, created_at, expires_at FROM idempotency_keys WHERE tenant_id = $1"
            " ORDER BY created_at, key",
            tenant_id,
        )
    finally:
        await conn.close()
    return [dict(r) for r in rows]


def assert_executed(r: httpx.Response, status: int = 201) -> None:
    """The command ran for this request (not a replay)."""
    assert r.status_code == status, r.text
    assert "idempotent-replayed" not in r.headers


def assert_replayed(r: httpx.Response, first: httpx.Response) -> None:
    """The stored first response, again: status, body and ETag."""
    assert (r.status_code, r.json()) == (first.status_code, first.json()), r.text
    assert r.headers["idempotent-replayed"] == "true"
    assert r.headers["etag"] == first.headers["etag"]


def assert_in_use(r: httpx.Response) -> None:
    assert_problem(r, 409, "IDEMPOTENCY_KEY_IN_USE")
    assert r.headers["retry-after"] == "1"


def assert_tombstone(r: httpx.Response) -> None:
    """A replay of a key whose response was about a patient erased since."""
    assert_problem(r, 410, "PATIENT_ERASED")
    assert r.headers["idempotent-replayed"] == "true"
