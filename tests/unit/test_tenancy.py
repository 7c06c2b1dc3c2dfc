"""Tenant and practitioner aggregates: decide and evolve."""

from __future__ import annotations

import uuid

import pytest

from backend.kernel.aggregate import aggregate_for
from backend.kernel.errors import Conflict, Invalid
from backend.tenancy.events import PractitionerRegistered, TenantCreated
from backend.tenancy.model import (
    PRACTITIONER,
    TENANT,
    Practitioner,
    Tenant,
    create_tenant,
    evolve_practitioner,
    evolve_tenant,
    practitioner_view,
    register_practitioner,
    tenant_view,
)
from backend.tenancy.policy import TenantPolicy

TID = uuid.UUID("10000000-0000-4000-8000-000000000001")
PID = uuid.UUID("20000000-0000-4000-8000-000000000002")


def test_create_tenant_emits_tenant_created_with_trimmed_name() -> None:
    events = create_tenant(Tenant(), TID, "  Clinic Nord ", "clinic-nord", 15, 60)
    assert events == [TenantCreated(TID, "Clinic Nord", "clinic-nord", 15, 60, "clinic", "USD")]


def test_create_tenant_refuses_an_existing_tenant() -> None:
    existing = TENANT.fold([TenantCreated(TID, "A", "a", 30, 120, "clinic", "USD")])
    with pytest.raises(Conflict) as err:
        create_tenant(existing, uuid.uuid4(), "B", "b", 30, 120)
    assert err.value.code == "TENANT_EXISTS"
    assert err.value.status == 409


@pytest.mark.parametrize("name", ["", " ", "\t\n"])
def test_create_tenant_refuses_a_blank_name(name: str) -> None:
    with pytest.raises(Invalid) as err:
        create_tenant(Tenant(), TID, name, "ok", 30, 120)
    assert err.value.field == "name"
    assert err.value.status == 422
    assert err.value.code == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    "slug",
    [
        "a",
        "7",
        "clinic-nord",
        "a-b-c-1",
        "a--b",
        "x" * 63,
        "a" + "-" * 61 + "b",
    ],
)
def test_create_tenant_accepts_good_slugs(slug: str) -> None:
    (event,) = create_tenant(Tenant(), TID, "Name", slug, 30, 120)
    assert isinstance(event, TenantCreated)
    assert event.slug == slug


@pytest.mark.parametrize(
    "slug",
    [
        "",
        "Clinic",
        "clinic-Nord",
        "-clinic",
        "clinic-",
        "-",
        "x" * 64,
        "clinic nord",
        "clinic_nord",
        "clinic.nord",
        "klinik-ü",
    ],
)
def test_create_tenant_refuses_bad_slugs(slug: str) -> None:
    with pytest.raises(Invalid) as err:
        create_tenant(Tenant(), TID, "Name", slug, 30, 120)
    assert err.value.field == "slug"


def test_create_tenant_refuses_a_slug_with_a_trailing_newline() -> None:
    with pytest.raises(Invalid):
        create_tenant(Tenant(), TID, "Name", "clinic\n", 30, 120)


def test_evolve_tenant_folds_tenant_created() -> None:
    state = TENANT.fold([TenantCreated(TID, "Clinic", "clinic", 10, 45, "clinic", "USD")])
    window = TenantPolicy(checkin_opens_before_min=10, checkin_closes_after_min=45)
    assert state == Tenant(TID, "Clinic", "clinic", window)
    view = tenant_view(state)
    assert (view["id"], view["slug"], view["policy"]["checkin_opens_before_min"]) == (
        TID,
        "clinic",
        10,
    )
    assert view["policy"]["kind"] == "clinic"


def test_evolve_tenant_ignores_foreign_events() -> None:
    state = Tenant(TID, "Clinic", "clinic")
    assert evolve_tenant(state, PractitionerRegistered(PID, "Dr", None)) is state


def test_tenant_defaults_to_the_standard_checkin_window() -> None:
    assert (Tenant().policy.checkin_opens_before_min, Tenant().policy.checkin_closes_after_min) == (
        30,
        120,
    )


def test_register_practitioner_emits_event_with_trimmed_name() -> None:
    assert register_practitioner(Practitioner(), PID, " Dr. Ada ", "cardiology") == [
        PractitionerRegistered(PID, "Dr. Ada", "cardiology")
    ]
    assert register_practitioner(Practitioner(), PID, "Dr. Bob", None) == [
        PractitionerRegistered(PID, "Dr. Bob", None)
    ]


def test_register_practitioner_refuses_an_existing_practitioner() -> None:
    existing = PRACTITIONER.fold([PractitionerRegistered(PID, "Dr. Ada", None)])
    with pytest.raises(Conflict) as err:
        register_practitioner(existing, PID, "Dr. Ada", None)
    assert err.value.code == "PRACTITIONER_EXISTS"


@pytest.mark.parametrize("name", ["", "   "])
def test_register_practitioner_refuses_a_blank_name(name: str) -> None:
    with pytest.raises(Invalid) as err:
        register_practitioner(Practitioner(), PID, name, None)
    assert err.value.field == "name"


def test_evolve_practitioner_folds_and_views() -> None:
    state = PRACTITIONER.fold([PractitionerRegistered(PID, "Dr. Ada", "gp")])
    assert state == Practitioner(PID, "Dr. Ada", "gp")
    assert practitioner_view(state) == {"id": PID, "name": "Dr. Ada", "specialty": "gp"}
    assert evolve_practitioner(state, TenantCreated(TID, "x", "x", 1, 1, "clinic", "USD")) is state


def test_aggregates_are_registered_by_stream_type() -> None:
    assert aggregate_for("tenant") is TENANT
    assert aggregate_for("practitioner") is PRACTITIONER
    assert aggregate_for("no-such-stream") is None
