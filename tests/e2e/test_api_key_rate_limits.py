"""Rate limits of partner API keys, counted in Redis: a key's own budget and its tenant's budget
for all its keys, 429 with Retry-After past either, the budgets left on every answer to a key,
and, while Redis is down, the same budgets held by the process itself."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import asyncpg
import httpx
import pytest
from e2e_helpers import assert_problem
from infra import free_port
from partner_helpers import make_key, with_key
from structlog.testing import capture_logs
from support import METRICS_TOKEN, TenantFixture

from backend.api.rate_limits import RETRY_SECONDS
from backend.auth.scopes import PATIENTS_READ
from backend.bootstrap import Resources, create_app
from backend.eventstore import EventStore
from backend.settings import Settings

_STATE = re.compile(r'^"key";r=(\d+);t=(\d+), "tenant";r=(\d+);t=(\d+)$')


def left(r: httpx.Response) -> tuple[int, int]:
    """The requests the key and its tenant have left, as the answer's RateLimit says."""
    match = _STATE.fullmatch(r.headers["ratelimit"])
    assert match is not None, r.headers["ratelimit"]
    return int(match.group(1)), int(match.group(3))


async def test_a_key_past_its_limit_is_refused_with_retry_after(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    made = await make_key(client, tenant, [PATIENTS_READ], rate_limit_per_minute=3)
    assert made["rate_limit_per_minute"] == 3
    key = with_key(made)
    answers = [await client.get("/v1/patients", headers=key) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert [left(r)[0] for r in answers] == [2, 1, 0]
    assert answers[0].headers["ratelimit-policy"] == '"key";q=3;w=60, "tenant";q=3000;w=60'

    refused = await client.get("/v1/patients", headers=key)
    assert_problem(refused, 429, "RATE_LIMITED")
    assert 1 <= int(refused.headers["retry-after"]) <= 20  # one request in 60/3 s
    key_left, tenant_left = left(refused)  # a refused request spends nothing
    assert key_left == 0 and 2997 <= tenant_left < 3000  # (the tenant's refills every 20 ms)

    admin = tenant.as_role("CLINIC_ADMIN")
    listed = (await client.get("/v1/api-keys", headers=admin)).json()["items"]
    assert next(k for k in listed if k["id"] == made["id"])["rate_limit_per_minute"] == 3
    for wrong in (0, 1_000_001, "60"):
        body = {"name": "lab", "scopes": [PATIENTS_READ], "rate_limit_per_minute": wrong}
        r = await client.post("/v1/api-keys", json=body, headers=admin)
        assert_problem(r, 422, "VALIDATION_ERROR")


async def test_the_tenant_budget_is_shared_by_its_keys_and_its_default_applies(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    admin = tenant.as_role("CLINIC_ADMIN")
    changes = {"api_rate_limit_per_minute": 5, "api_tenant_rate_limit_per_minute": 4}
    r = await client.patch("/v1/tenant/policy", json=changes, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["policy"].items() >= changes.items()
    first = with_key(await make_key(client, tenant, [PATIENTS_READ]))
    second = with_key(await make_key(client, tenant, [PATIENTS_READ]))
    elsewhere = with_key(await make_key(client, other_tenant, [PATIENTS_READ]))

    r = await client.get("/v1/patients", headers=first)
    assert r.headers["ratelimit-policy"] == '"key";q=5;w=60, "tenant";q=4;w=60'
    assert left(r) == (4, 3)
    for expected in ((3, 2), (4, 1), (3, 0)):
        key = first if expected == (3, 2) else second
        r = await client.get("/v1/patients", headers=key)
        assert r.status_code == 200, r.text
        assert left(r) == expected
    refused = await rejections(client, "tenant")
    for key in (first, second):  # each key has budget left; their tenant has none
        r = await client.get("/v1/patients", headers=key)
        assert_problem(r, 429, "RATE_LIMITED")
        assert left(r)[1] == 0 and left(r)[0] > 0
    assert await rejections(client, "tenant") == refused + 2
    r = await client.get("/v1/patients", headers=elsewhere)
    assert r.status_code == 200 and left(r) == (599, 2999)

    r = await client.patch(
        "/v1/tenant/policy", json={"api_rate_limit_per_minute": 0}, headers=admin
    )
    assert_problem(r, 422, "VALIDATION_ERROR")


async def test_every_answer_to_a_key_says_what_is_left_and_nothing_else_does(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    key = with_key(await make_key(client, tenant, [PATIENTS_READ], rate_limit_per_minute=10))
    answers = [
        await client.get("/v1/patients", headers=key),
        await client.get("/v1/patients/00000000-0000-4000-8000-000000000000", headers=key),
        await client.get("/v1/appointments", headers=key),  # INSUFFICIENT_SCOPE
        await client.get("/v1/tenant", headers=key),  # closed to keys
        await client.get("/v1/patients", params={"limit": "many"}, headers=key),
    ]
    assert [r.status_code for r in answers] == [200, 404, 403, 403, 422]
    assert [left(r)[0] for r in answers] == [9, 8, 7, 6, 5]
    for r in answers:
        assert r.headers["ratelimit-policy"] == '"key";q=10;w=60, "tenant";q=3000;w=60'

    unknown = {"X-API-Key": "ct_live_" + "0" * 32 + "_" + "a" * 43}
    for headers in (tenant.as_role("DOCTOR"), unknown):
        r = await client.get("/v1/patients", headers=headers)
        assert "ratelimit" not in r.headers and "ratelimit-policy" not in r.headers


@contextmanager
def redis_server(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A Redis of this test's own, keeping nothing on disk."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.kill()
        process.wait()


async def until_up(port: int) -> None:
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
        else:
            writer.close()
            return
    raise AssertionError(f"redis-server on port {port} did not start")


@pytest.fixture
async def own_redis_client(
    settings: Settings,
    owner_dsn: str,
    app_pool: asyncpg.Pool,
    store: EventStore,
    projector_pool: asyncpg.Pool,
) -> AsyncIterator[tuple[httpx.AsyncClient, int]]:
    """The application counting in a Redis on a port of its own (nothing listens there yet)."""
    port = free_port()
    own = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"})
    app = create_app(own, Resources(owner_dsn, app_pool, store, projector_pool))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c, port


async def rejections(client: httpx.AsyncClient, budget: str) -> float:
    r = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    series = f'caretrail_rate_limit_rejections_total{{budget="{budget}"}}'
    match = re.search(rf"^{re.escape(series)} (\S+)$", r.text, re.M)
    return float(match.group(1)) if match else 0.0


async def fallbacks(client: httpx.AsyncClient) -> float:
    r = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    match = re.search(r"^caretrail_rate_limit_fallback_total (\S+)$", r.text, re.M)
    assert match is not None, r.text
    return float(match.group(1))


async def test_with_redis_down_each_process_holds_keys_to_their_limits(
    own_redis_client: tuple[httpx.AsyncClient, int], tenant: TenantFixture
) -> None:
    """Fail open to the in-process limiter: reads go on, within the same budgets, logged and
    counted; Redis is used again once it is back."""
    client, port = own_redis_client
    key = with_key(await make_key(client, tenant, [PATIENTS_READ], rate_limit_per_minute=4))
    with redis_server(port):
        await until_up(port)
        r = await client.get("/v1/patients", headers=key)
        assert r.status_code == 200 and left(r)[0] == 3
        assert await fallbacks(client) == 0

    with capture_logs() as logs:  # killed: the next requests are counted in the process
        answers = [await client.get("/v1/patients", headers=key) for _ in range(5)]
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 429]
    assert [left(r)[0] for r in answers] == [3, 2, 1, 0, 0]
    assert int(answers[-1].headers["retry-after"]) >= 1
    down = [line for line in logs if line["event"] == "rate_limit_redis_down"]
    assert [line["log_level"] for line in down] == ["warning"]  # once, not per request
    assert await fallbacks(client) == 5

    with redis_server(port):
        await until_up(port)
        await asyncio.sleep(RETRY_SECONDS)
        with capture_logs() as logs:
            r = await client.get("/v1/patients", headers=key)
        # Redis started empty: the key's budget there is whole again, less this request.
        assert r.status_code == 200 and left(r)[0] == 3
        assert "rate_limit_redis_back" in [line["event"] for line in logs]
        assert await fallbacks(client) == 5
