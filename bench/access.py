"""What the access log costs a read: `GET /v1/patients/{id}` through the whole app (in process,
over ASGI: auth, the read-model transaction, the response) with the access row written in the
read's transaction, against the same read with the log off (CARETRAIL_ACCESS_LOG=false, allowed
in test only), in alternating rounds of the same length side by side (medians)."""

from __future__ import annotations

import statistics
import uuid
from contextlib import AsyncExitStack

import httpx

from backend.auth.tokens import issue_token
from backend.bootstrap import Resources, create_app
from backend.eventstore import EventStore
from backend.eventstore.db import create_pool
from backend.settings import Settings, with_user
from bench.common import rate, report

SECRET = "bench-access-log-secret-0123456789abcdef"
READERS = 8


async def read_cost(owner: str, seconds: float, rounds: int) -> None:
    """Reads per second with and without the log; prints each and their ratio."""
    pool = await create_pool(with_user(owner, "caretrail_app"), max_size=READERS + 2)
    projector = await create_pool(with_user(owner, "caretrail_projector"), max_size=6)
    store = EventStore(pool)
    try:
        async with AsyncExitStack() as stack:
            clients = {}
            for logged in (True, False):
                settings = Settings(
                    CARETRAIL_ENV="test", CARETRAIL_JWT_SECRET=SECRET, CARETRAIL_ACCESS_LOG=logged
                )
                app = create_app(settings, Resources(owner, pool, store, projector))
                await stack.enter_async_context(app.router.lifespan_context(app))
                transport = httpx.ASGITransport(app=app)
                clients[logged] = await stack.enter_async_context(
                    httpx.AsyncClient(transport=transport, base_url="http://bench")
                )
            url, headers = await _a_patient(clients[True])
            with_log: list[float] = []
            without: list[float] = []
            for _ in range(rounds):
                for logged, samples in ((False, without), (True, with_log)):

                    async def read(client: httpx.AsyncClient = clients[logged]) -> None:
                        (await client.get(url, headers=headers)).raise_for_status()

                    samples.append(await rate(READERS, seconds, read))
        baseline = statistics.median(without)
        report("read_without_access_log", baseline, "reads/s", baseline)
        report("read_with_access_log", statistics.median(with_log), "reads/s", baseline)
    finally:
        await pool.close()
        await projector.close()


async def _a_patient(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    admin = issue_token(SECRET, actor="bench", roles=["PLATFORM_ADMIN"])
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    r = await client.post(
        "/v1/tenants",
        json={"name": "Bench", "slug": slug},
        headers={"Authorization": f"Bearer {admin}"},
    )
    tenant = uuid.UUID(r.raise_for_status().json()["id"])
    token = issue_token(SECRET, actor="nurse", roles=["NURSE"], tenant_id=tenant)
    headers = {"Authorization": f"Bearer {token}"}
    body = {
        "given_name": "Ada",
        "family_name": "Bench",
        "birth_date": "1990-01-01",
        "sex": "female",
    }
    r = await client.post("/v1/patients", json=body, headers=headers)
    patient = r.raise_for_status().json()
    url = f"/v1/patients/{patient['id']}"
    r = await client.get(url, params={"min_position": patient["position"]}, headers=headers)
    r.raise_for_status()
    return url, headers
