"""`GET /metrics` answers where the time and the refusals go: append latency, commands by what
they are and how they ended, next to the gauges read from the database (projection lag in events
and seconds, parked projections) and the rate limiter's refusals."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import httpx
from e2e_helpers import create_patient
from support import METRICS_TOKEN, TenantFixture

DASHBOARD = Path(__file__).parents[2] / "infrastructure" / "grafana" / "caretrail.json"
_NAMES = re.compile(r"\bcaretrail_\w+")


async def _metrics(client: httpx.AsyncClient) -> str:
    r = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200, r.text
    return r.text


def _value(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


async def test_commands_are_counted_by_route_and_outcome_and_appends_timed(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    ok = 'caretrail_commands_total{command="POST /v1/patients",outcome="ok"}'
    rejected = (
        'caretrail_commands_total{command="PATCH /v1/patients/{patient_id}",outcome="rejected"}'
    )
    appends = 'caretrail_append_duration_seconds_count{stream_type="patient"}'
    before = await _metrics(client)

    await create_patient(client, tenant)
    r = await client.patch(
        f"/v1/patients/{uuid.uuid4()}", json={"given_name": "X"}, headers=tenant.as_role("NURSE")
    )
    assert r.status_code == 404, r.text

    after = await _metrics(client)
    assert _value(after, ok) == _value(before, ok) + 1
    assert _value(after, rejected) == _value(before, rejected) + 1
    assert _value(after, appends) == _value(before, appends) + 1
    for name in (
        "caretrail_projection_lag_events",
        "caretrail_projection_lag_seconds",
        "caretrail_projection_parked",
        "caretrail_rate_limit_rejections",
        "caretrail_notification_attempts",
        "caretrail_webhook_deliveries",
    ):
        assert f"# TYPE {name}" in after, name


async def test_the_dashboard_charts_only_metrics_the_api_serves(client: httpx.AsyncClient) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    charted = {
        re.sub(r"_(total|bucket|count|sum)$", "", m) for e in exprs for m in _NAMES.findall(e)
    }
    typed = re.findall(r"^# TYPE (caretrail_\w+) ", await _metrics(client), re.M)
    served = {re.sub(r"_total$", "", m) for m in typed}
    assert charted and charted <= served, charted - served
