"""Tenant policy: settings are checked, only real changes are recorded, old tenants fold."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from backend.kernel.clinical_time import occurred_at
from backend.kernel.errors import Invalid, NotFound
from backend.tenancy.events import TenantCreated, TenantPolicyChanged
from backend.tenancy.model import TENANT, Tenant, change_policy, create_tenant

TID = uuid.UUID("00000000-0000-4000-8000-000000000001")
CREATED = TenantCreated(TID, "Clinic", "clinic", 30, 120, "clinic", "USD")


def test_a_policy_change_records_only_what_changes() -> None:
    state = TENANT.fold([CREATED])
    events = change_policy(state, {"currency": "USD", "timezone": "Europe/Berlin"})
    assert events == [TenantPolicyChanged({"timezone": "Europe/Berlin"})]
    assert change_policy(state, {"currency": "USD"}) == []


def test_policy_changes_fold_into_typed_values() -> None:
    state = TENANT.fold(
        [
            CREATED,
            TenantPolicyChanged({"discount_threshold_percent": "12.5", "quiet_hours_end": "07:30"}),
        ]
    )
    assert state.policy.discount_threshold_percent == Decimal("12.5")
    assert state.policy.quiet_hours_end == dt.time(7, 30)
    assert state.policy.currency == "USD"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"currency": "usd"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "XAU"}, "currency"),
        ({"discount_threshold_percent": "5.555"}, "discount_threshold_percent"),
        ({"discount_threshold_percent": "1e1"}, "discount_threshold_percent"),
        ({"discount_threshold_percent": 10}, "discount_threshold_percent"),
        ({"invoice_max_total": "0"}, "invoice_max_total"),
        ({"invoice_max_total": "100.001"}, "invoice_max_total"),
        ({"invoice_max_total": "1000000000"}, "invoice_max_total"),
        ({"invoice_max_total": 500}, "invoice_max_total"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"late_charting_max_hours": -1}, "late_charting_max_hours"),
        ({"late_charting_max_hours": True}, "late_charting_max_hours"),
        ({"discount_threshold_percent": "101"}, "discount_threshold_percent"),
        ({"discount_threshold_percent": "NaN"}, "discount_threshold_percent"),
        ({"discount_threshold_percent": "ten"}, "discount_threshold_percent"),
        ({"quiet_hours_start": "25:00"}, "quiet_hours_start"),
        ({"kind": "spa"}, "kind"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_policy_values_name_their_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as e:
        change_policy(TENANT.fold([CREATED]), changes)
    assert e.value.field == field


def test_policy_of_an_unknown_tenant_is_not_found() -> None:
    with pytest.raises(NotFound):
        change_policy(Tenant(), {"currency": "EUR"})


def test_a_hospital_with_its_currency() -> None:
    events = create_tenant(Tenant(), TID, "St. Mary", "st-mary", 30, 120, "hospital", "EUR")
    state = TENANT.fold(events)
    assert (state.policy.kind, state.policy.currency) == ("hospital", "EUR")
    with pytest.raises(Invalid):
        create_tenant(Tenant(), TID, "X", "x", 30, 120, "clinic", "euro")


NOW = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
DAY = dt.timedelta(hours=24)


def test_occurred_at_defaults_to_now_and_accepts_late_charting_within_policy() -> None:
    assert occurred_at(None, NOW, DAY) == NOW
    assert occurred_at(NOW - DAY, NOW, DAY) == NOW - DAY


def test_occurred_at_refuses_the_future_and_the_too_old() -> None:
    with pytest.raises(Invalid, match="future"):
        occurred_at(NOW + dt.timedelta(seconds=1), NOW, DAY)
    with pytest.raises(Invalid, match="24 hours"):
        occurred_at(NOW - DAY - dt.timedelta(seconds=1), NOW, DAY)


def test_a_new_tenants_currency_is_an_iso_4217_currency() -> None:
    with pytest.raises(Invalid) as e:
        create_tenant(Tenant(), TID, "Clinic", "clinic", 30, 120, "clinic", "XYZ")
    assert e.value.field == "currency"
    [created] = create_tenant(Tenant(), TID, "Clinic", "clinic", 30, 120, "clinic", "JPY")
    assert isinstance(created, TenantCreated) and created.currency == "JPY"


def test_values_recorded_before_a_rule_tightened_still_fold() -> None:
    """A tenant's history is folded as recorded: a threshold of 5.555 or a currency XYZ
    accepted before codes and places were checked keep the tenant loadable."""
    old = TenantCreated(TID, "Clinic", "clinic", 30, 120, "clinic", "XYZ")
    changed = TenantPolicyChanged({"discount_threshold_percent": "5.555"})
    state = TENANT.fold([old, changed])
    assert (state.policy.currency, state.policy.discount_threshold_percent) == (
        "XYZ",
        Decimal("5.555"),
    )
    capped = change_policy(state, {"invoice_max_total": "5000"})
    assert TENANT.fold([old, changed, *capped]).policy.invoice_max_total == Decimal("5000.00")
