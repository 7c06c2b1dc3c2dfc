"""Request limits: a body over its route's limit is refused (413 problem+json) before anything
reads or parses it, whether its size is declared or it streams in chunked; headers too large
are 431. The webhook takes less than other routes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
from e2e_helpers import assert_problem
from support import TenantFixture
from visit_helpers import NOTE, open_walk_in

from backend.api.limits import DEFAULT_BODY_BYTES, HEADER_BYTES, body_limit


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size


async def test_declared_body_over_the_limit_is_refused_before_authentication(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(
        "/v1/patients",
        content=b"{}",
        headers={"Content-Length": str(DEFAULT_BODY_BYTES + 1), "Content-Type": "application/json"},
    )
    body = assert_problem(r, 413, "PAYLOAD_TOO_LARGE")
    assert str(DEFAULT_BODY_BYTES) in body["detail"]


async def test_a_chunked_body_is_cut_off_at_the_limit(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.post(
        "/v1/patients",
        content=_chunks(DEFAULT_BODY_BYTES * 4),
        headers={**tenant.as_role("RECEPTIONIST"), "Content-Type": "application/json"},
    )
    assert_problem(r, 413, "PAYLOAD_TOO_LARGE")


async def test_the_webhook_takes_less_and_refuses_before_the_signature(
    client: httpx.AsyncClient,
) -> None:
    webhook = "/v1/payments/webhook/fakepay"
    limit = body_limit(webhook)
    assert limit < DEFAULT_BODY_BYTES
    big = b"{" + b" " * limit + b"}"
    assert_problem(await client.post(webhook, content=big), 413, "PAYLOAD_TOO_LARGE")
    assert_problem(await client.post(webhook, content=_chunks(limit * 2)), 413, "PAYLOAD_TOO_LARGE")
    # Under the limit the request reaches the signature check.
    assert_problem(await client.post(webhook, content=b"{}"), 401, "BAD_SIGNATURE")


async def test_the_largest_valid_note_is_under_the_limit(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """Four sections of 20 000 characters, each sent as a six-byte JSON escape."""
    visit = await open_walk_in(client, tenant)
    note = {section: "\u00e9" * 20_000 for section in NOTE}
    raw = json.dumps(note).encode()  # ASCII escapes: \u00e9
    assert len(raw) > 400_000
    r = await client.put(
        visit.url("/note"),
        content=raw,
        headers={**visit.doctor, "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text


async def test_headers_too_large_are_refused(client: httpx.AsyncClient) -> None:
    r = await client.get("/health", headers={"X-Padding": "p" * (HEADER_BYTES + 1)})
    assert_problem(r, 431, "HEADERS_TOO_LARGE")
    assert (await client.get("/health", headers={"X-Padding": "p" * 1000})).status_code == 200
