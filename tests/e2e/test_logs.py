"""What the logs say about failures: a 500 is one line with its request id and traceback; a 503
says its problem code; events record the trace their command ran in."""

from __future__ import annotations

import re

import asyncpg
import httpx
from e2e_helpers import create_patient
from structlog.testing import capture_logs
from support import TenantFixture

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


async def test_a_500_is_one_line_with_its_request_id_and_traceback(
    server: httpx.AsyncClient,
) -> None:
    with capture_logs() as logs:
        r = await server.get("/_boom", headers={"X-Request-ID": "boom-1"})
    assert r.status_code == 500
    assert r.headers["x-request-id"] == "boom-1"
    assert r.json()["code"] == "INTERNAL_ERROR"
    (line,) = logs
    assert (line["event"], line["log_level"], line["status"]) == ("request", "error", 500)
    assert (line["request_id"], line["code"], line["route"]) == (
        "boom-1",
        "INTERNAL_ERROR",
        "/_boom",
    )
    assert isinstance(line["exc_info"], RuntimeError)
    assert re.fullmatch(r"[0-9a-f]{32}", line["trace_id"])


async def test_a_503_is_a_warning_with_its_code(server: httpx.AsyncClient) -> None:
    with capture_logs() as logs:
        r = await server.get("/_lagging")
    assert r.status_code == 503
    (line,) = logs
    assert (line["log_level"], line["status"], line["code"]) == (
        "warning",
        503,
        "PROJECTION_LAGGING",
    )


async def test_a_command_records_the_trace_it_ran_in(
    server: httpx.AsyncClient, tenant: TenantFixture, projector_pool: asyncpg.Pool
) -> None:
    """The caller's trace, with this request as the parent span: the relay publishes it and
    every log line of the request names it."""
    headers = {
        **tenant.as_role("RECEPTIONIST"),
        "traceparent": f"00-{TRACE_ID}-b7ad6b7169203331-01",
    }
    with capture_logs() as logs:
        r = await server.post(
            "/v1/patients",
            json={
                "given_name": "T",
                "family_name": "Race",
                "birth_date": "1990-01-01",
                "sex": "other",
            },
            headers=headers,
        )
    assert r.status_code == 201, r.text
    (line,) = [e for e in logs if e["event"] == "request"]
    assert line["trace_id"] == TRACE_ID
    recorded = await _traceparent(projector_pool, r.json()["position"])
    assert re.fullmatch(rf"00-{TRACE_ID}-[0-9a-f]{{16}}-01", recorded)
    assert not recorded.endswith("b7ad6b7169203331-01")  # the request is a span of its own

    untraced = await create_patient(server, tenant)
    fresh = await _traceparent(projector_pool, untraced["position"])
    # Sampled (01), and a new trace's id random as W3C trace context level 2 says (02).
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-0[13]", fresh)
    assert TRACE_ID not in fresh


async def _traceparent(pool: asyncpg.Pool, position: int) -> str:
    value: str = await pool.fetchval(
        "SELECT metadata->>'traceparent' FROM events WHERE position = $1", position
    )
    return value
