"""read_model over several projections: min_position waits for every one of them, and the
position it reports is the least they have all reached."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import httpx
import pytest
from e2e_helpers import create_patient
from fastapi import FastAPI, Request
from support import TenantFixture

from backend.api import reads
from backend.api.problems import ApiError
from backend.auth.principal import Principal, Role


def request_to(app: FastAPI) -> Request:
    """What read_model reads of a request: its app, and its state (a read that broke the
    glass says so there)."""
    return cast(Request, SimpleNamespace(app=app, state=SimpleNamespace()))


def staff(tenant: TenantFixture) -> Principal:
    return Principal("tester", tenant.id, frozenset({Role.RECEPTIONIST}))


async def test_the_position_is_the_least_of_the_projections(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFixture, projector_pool: asyncpg.Pool
) -> None:
    created = await create_patient(client, tenant)
    names = ["patients", "appointments", "invoices"]
    async with reads.read_model(request_to(app), staff(tenant), names, created["position"]) as (
        _,
        at,
    ):
        positions: dict[str, Any] = dict(
            await projector_pool.fetch(
                "SELECT name, position FROM projection_progress WHERE name = ANY($1)", names
            )
        )
    assert positions.keys() == set(names)
    assert created["position"] <= at <= min(positions.values())


async def test_one_projection_behind_makes_the_read_wait_then_503(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A projection that has applied nothing (it never ran) holds back a read that names it,
    even though the others are past the position."""
    monkeypatch.setattr(reads, "MAX_WAIT_SECONDS", 0.3)
    created = await create_patient(client, tenant)
    request, principal = request_to(app), staff(tenant)
    async with reads.read_model(request, principal, ["patients"], created["position"]) as (_, at):
        assert at >= created["position"]
    began = time.monotonic()
    with pytest.raises(ApiError) as e:
        async with reads.read_model(
            request, principal, ["patients", "never-ran"], created["position"]
        ):
            pass
    assert time.monotonic() - began >= 0.3
    assert (e.value.status, e.value.code) == (503, "PROJECTION_LAGGING")
    async with reads.read_model(request, principal, ["patients", "never-ran"], None) as (_, at):
        assert at == 0
