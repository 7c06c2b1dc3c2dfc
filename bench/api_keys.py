"""What a partner's API key costs per request: `GET /v1/patients/{id}` through a real
`caretrail serve` with `X-API-Key` (the key verified, from the process's cache of keys verified
in the last 5 s or else from PostgreSQL, then its rate limits in Redis: one round trip) against
the same request with a staff JWT (verified in the process), both driven by wrk with the same
connections, rounds alternating (and which goes first alternating too) so machine noise hits
both. The key's and the tenant's limits are set far above what wrk reaches, so every request is
counted and none refused."""

from __future__ import annotations

import asyncio
import shutil
import statistics
import uuid
from typing import Any

import httpx

from backend.auth.api_keys import MAX_PER_MINUTE
from backend.auth.scopes import PATIENTS_READ
from backend.auth.tokens import issue_token
from bench.common import report
from bench.http import BODY, SECRET, Load, serve, wrk_load


async def run(owner: str, seconds: float, rounds: int, connections: list[int]) -> None:
    wrk = shutil.which("wrk")
    if wrk is None:
        print("# keys: wrk is not installed (apt-get install wrk); skipped", flush=True)
        return
    async with serve(owner) as api:
        token, key, path = await _partner_and_patient(api.port)
        jwt_script = f'wrk.headers["Authorization"] = "Bearer {token}"\n'
        key_script = f'wrk.headers["X-API-Key"] = "{key}"\n'
        for c in connections:
            jwt_loads: list[Load] = []
            key_loads: list[Load] = []
            cpu = {"jwt": 0.0, "key": 0.0}
            for i in range(rounds):
                # Each goes first every other round: a drift in the machine's load hits both.
                kinds = (("jwt", jwt_script, jwt_loads), ("key", key_script, key_loads))
                for kind, script, loads in kinds[:: 1 if i % 2 == 0 else -1]:
                    started = api.cpu_seconds()
                    loads.append(await wrk_load(wrk, api.port, path, script, c, seconds))
                    cpu[kind] += api.cpu_seconds() - started
            _report(c, jwt_loads, key_loads, cpu)


def _report(c: int, jwt: list[Load], key: list[Load], cpu: dict[str, float]) -> None:
    jwt_rate = statistics.median(x.per_second for x in jwt)
    key_rate = statistics.median(x.per_second for x in key)
    jwt_p99 = statistics.median(x.p99_ms for x in jwt)
    key_p99 = statistics.median(x.p99_ms for x in key)
    report(f"http_read_jwt_c{c}", jwt_rate, "requests/s", jwt_rate)
    report(f"http_read_api_key_c{c}", key_rate, "requests/s", jwt_rate)
    report(f"http_read_jwt_p99_c{c}", jwt_p99, "ms", jwt_p99)
    report(f"http_read_api_key_p99_c{c}", key_p99, "ms", jwt_p99)
    # The API process's CPU per request (Redis's and PostgreSQL's are not in it).
    jwt_ms = 1000 * cpu["jwt"] / max(sum(x.requests for x in jwt), 1)
    key_ms = 1000 * cpu["key"] / max(sum(x.requests for x in key), 1)
    report(f"http_read_jwt_cpu_per_request_c{c}", jwt_ms, "ms", jwt_ms)
    report(f"http_read_api_key_cpu_per_request_c{c}", key_ms, "ms", jwt_ms)
    refused = sum(x.non_2xx for x in (*jwt, *key))
    if refused:
        print(f"# keys c{c}: {refused} answers were not 2xx", flush=True)


async def _partner_and_patient(port: int) -> tuple[str, str, str]:
    """A new tenant with one patient: a receptionist's token, a key that may read patients
    (limits at their maximum, the tenant's too), and the patient's path once it can be read."""
    platform = _bearer(issue_token(SECRET, actor="bench", roles=["PLATFORM_ADMIN"], tenant_id=None))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        slug = f"bench-keys-{uuid.uuid4().hex[:8]}"
        tenant = await _ok(
            client.post("/v1/tenants", json={"name": "Bench", "slug": slug}, headers=platform)
        )
        tenant_id = uuid.UUID(tenant["id"])
        admin = _bearer(
            issue_token(SECRET, actor="bench-admin", roles=["CLINIC_ADMIN"], tenant_id=tenant_id)
        )
        limits = {
            "api_rate_limit_per_minute": MAX_PER_MINUTE,
            "api_tenant_rate_limit_per_minute": MAX_PER_MINUTE,
        }
        await _ok(client.patch("/v1/tenant/policy", json=limits, headers=admin))
        body = {"name": "bench", "scopes": [PATIENTS_READ], "rate_limit_per_minute": MAX_PER_MINUTE}
        key = (await _ok(client.post("/v1/api-keys", json=body, headers=admin)))["key"]
        token = issue_token(SECRET, actor="bench-desk", roles=["RECEPTIONIST"], tenant_id=tenant_id)
        desk = _bearer(token)
        patient = await _ok(
            client.post(
                "/v1/patients", content=BODY, headers={**desk, "Content-Type": "application/json"}
            )
        )
        path = f"/v1/patients/{patient['id']}"
        for _ in range(100):
            if (await client.get(path, headers=desk)).status_code == 200:
                return token, key, path
            await asyncio.sleep(0.05)
    raise RuntimeError("the bench patient never became readable")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _ok(request: Any) -> dict[str, Any]:
    answer: httpx.Response = await request
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body
