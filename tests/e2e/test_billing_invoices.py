"""Invoices through HTTP: draft, lines, discounts and who may grant them, issue, reads, roles,
bad input and tenant isolation."""

from __future__ import annotations

import uuid

import httpx
import pytest
from billing_helpers import CONSULT, LAB, command, draft, issued, read_invoice
from e2e_helpers import assert_problem, create_patient, error_fields
from support import TenantFixture, bearer, new_tenant


async def test_draft_in_the_tenants_currency_with_lines(client: httpx.AsyncClient) -> None:
    tenant = await new_tenant(client, currency="EUR")
    invoice = await draft(client, tenant, [CONSULT, LAB])
    assert (invoice["status"], invoice["currency"], invoice["version"]) == ("draft", "EUR", 3)
    assert [x["amount"] for x in invoice["lines"]] == ["80.00", "20.01"]
    # Running figures; nothing is owed (the balance is the receivable) until it is issued.
    assert (invoice["subtotal"], invoice["total"], invoice["balance"]) == (
        "100.01",
        "100.01",
        "0.00",
    )
    read = await read_invoice(client, tenant, invoice["id"], invoice["position"])
    assert read["lines"] == invoice["lines"]
    assert read["total"] == "100.01" and read["version"] == 3


async def test_lines_are_added_and_removed(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    invoice = await draft(client, tenant)
    assert invoice["lines"] == [] and invoice["total"] == "0.00"
    r = await command(client, tenant, f"{invoice['id']}/lines", LAB)
    assert r.status_code == 201, r.text
    added = r.json()
    line_id = added["line_id"]
    assert [x["line_id"] for x in added["lines"]] == [line_id]
    assert added["total"] == "20.01"
    r = await client.delete(
        f"/v1/invoices/{invoice['id']}/lines/{line_id}", headers=tenant.as_role("CLINIC_ADMIN")
    )
    assert r.status_code == 200, r.text
    assert r.json()["lines"] == [] and r.json()["total"] == "0.00"
    again = await client.delete(
        f"/v1/invoices/{invoice['id']}/lines/{line_id}", headers=tenant.as_role("CLINIC_ADMIN")
    )
    assert_problem(again, 404, "NOT_FOUND")


async def test_an_empty_invoice_cannot_be_issued(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    invoice = await draft(client, tenant)
    assert_problem(await command(client, tenant, f"{invoice['id']}/issue"), 409, "INVOICE_EMPTY")


async def test_issue_fixes_the_totals_and_the_draft(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    invoice = await draft(client, tenant, [CONSULT, LAB])
    r = await command(client, tenant, f"{invoice['id']}/discount", {"percent": "10", "reason": "x"})
    assert r.status_code == 200, r.text
    done = (await command(client, tenant, f"{invoice['id']}/issue")).json()
    # 10 % of 100.01 = 10.001 -> 10.00
    assert (done["status"], done["subtotal"], done["discount"], done["total"]) == (
        "issued",
        "100.01",
        "10.00",
        "90.01",
    )
    for path, body in (
        ("lines", CONSULT),
        ("discount", {"percent": "5", "reason": "x"}),
        ("issue", None),
    ):
        r = await command(client, tenant, f"{invoice['id']}/{path}", body)
        assert_problem(r, 409, "INVOICE_ISSUED")
    line_id = done["lines"][0]["line_id"]
    r = await client.delete(
        f"/v1/invoices/{invoice['id']}/lines/{line_id}", headers=tenant.as_role("RECEPTIONIST")
    )
    assert_problem(r, 409, "INVOICE_ISSUED")


async def test_discount_threshold_and_who_may_exceed_it(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.patch(
        "/v1/tenant/policy",
        json={"discount_threshold_percent": "15"},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 200, r.text
    invoice = await draft(client, tenant, [CONSULT])
    path = f"{invoice['id']}/discount"
    at_threshold = await command(client, tenant, path, {"percent": "15", "reason": "loyal"})
    assert at_threshold.status_code == 200, at_threshold.text
    above = {"percent": "15.01", "reason": "hardship"}
    refused = await command(client, tenant, path, above)
    assert_problem(refused, 403, "DISCOUNT_NEEDS_APPROVAL")
    for role in ("CLINIC_ADMIN", "FINANCE_BILLING"):
        r = await command(client, tenant, path, above, role=role)
        assert r.status_code == 200, r.text
        assert (r.json()["discount_percent"], r.json()["discount"]) == ("15.01", "12.01")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"percent": "10"}, "reason"),
        ({"percent": "10", "reason": ""}, "reason"),
        ({"percent": 10, "reason": "x"}, "percent"),
        ({"percent": "10.005", "reason": "x"}, "percent"),
        ({"percent": "101", "reason": "x"}, "percent"),
        ({"percent": "-1", "reason": "x"}, "percent"),
    ],
)
async def test_bad_discounts_name_the_field(
    client: httpx.AsyncClient, tenant: TenantFixture, body: dict[str, object], field: str
) -> None:
    invoice = await draft(client, tenant, [CONSULT])
    r = await command(client, tenant, f"{invoice['id']}/discount", body)
    assert error_fields(r) == {field}


async def test_a_blank_reason_is_refused(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    invoice = await draft(client, tenant, [CONSULT])
    r = await command(client, tenant, f"{invoice['id']}/discount", {"percent": "5", "reason": " "})
    assert error_fields(r) == {"reason"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"unit_price": 12.5}, "unit_price"),
        ({"unit_price": "12.505"}, "unit_price"),
        ({"unit_price": "-1"}, "unit_price"),
        ({"unit_price": "abc"}, "unit_price"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"quantity": "2"}, "quantity"),
        ({"code": ""}, "code"),
        ({"description": ""}, "description"),
    ],
)
async def test_bad_lines_name_the_field(
    client: httpx.AsyncClient, tenant: TenantFixture, change: dict[str, object], field: str
) -> None:
    invoice = await draft(client, tenant)
    r = await command(client, tenant, f"{invoice['id']}/lines", {**CONSULT, **change})
    assert error_fields(r) == {field}
    patient = await create_patient(client, tenant)
    body = {"patient_id": patient["id"], "lines": [CONSULT, {**CONSULT, **change}]}
    r = await client.post("/v1/invoices", json=body, headers=tenant.as_role("RECEPTIONIST"))
    assert error_fields(r) == {f"lines.1.{field}"}


async def test_the_patient_must_exist(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    r = await client.post(
        "/v1/invoices",
        json={"patient_id": str(uuid.uuid4())},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert error_fields(r) == {"patient_id"}


@pytest.mark.parametrize("role", ["DOCTOR", "NURSE", "AUDITOR", "PATIENT", "PHARMACIST"])
async def test_roles_that_may_not_bill(
    client: httpx.AsyncClient, tenant: TenantFixture, role: str
) -> None:
    patient = await create_patient(client, tenant)
    r = await client.post(
        "/v1/invoices", json={"patient_id": patient["id"]}, headers=tenant.as_role(role)
    )
    assert_problem(r, 403, "FORBIDDEN")


async def test_listing_by_patient_and_status(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    draft_one = await draft(client, tenant, [CONSULT])
    done = await issued(client, tenant, [LAB])
    headers = tenant.as_role("AUDITOR")
    position = max(draft_one["position"], done["position"])
    r = await client.get(
        "/v1/invoices", params={"status": "issued", "min_position": position}, headers=headers
    )
    assert r.status_code == 200, r.text
    ids = {x["id"] for x in r.json()["items"]}
    assert done["id"] in ids and draft_one["id"] not in ids
    assert int(r.headers["X-Projection-Position"]) >= position
    r = await client.get(
        "/v1/invoices",
        params={"patient_id": draft_one["patient_id"], "min_position": position},
        headers=headers,
    )
    assert [x["id"] for x in r.json()["items"]] == [draft_one["id"]]
    seen: list[str] = []
    params: dict[str, object] = {"limit": 1, "min_position": position}
    for _ in range(50):
        page = (await client.get("/v1/invoices", params=params, headers=headers)).json()
        assert len(page["items"]) <= 1
        seen += [x["id"] for x in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert sorted(seen) == seen and {draft_one["id"], done["id"]} <= set(seen)


async def test_another_tenants_invoice_is_not_found(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    invoice = await draft(client, tenant, [CONSULT])
    r = await client.get(
        f"/v1/invoices/{invoice['id']}",
        params={"min_position": invoice["position"]},
        headers=other_tenant.as_role("CLINIC_ADMIN"),
    )
    assert_problem(r, 404, "NOT_FOUND")
    for path, body in (
        ("lines", LAB),
        ("issue", None),
        ("discount", {"percent": "1", "reason": "x"}),
    ):
        r = await command(client, other_tenant, f"{invoice['id']}/{path}", body)
        assert_problem(r, 404, "NOT_FOUND")
    listed = await client.get(
        "/v1/invoices",
        params={"patient_id": invoice["patient_id"], "min_position": invoice["position"]},
        headers=other_tenant.as_role("CLINIC_ADMIN"),
    )
    assert listed.json()["items"] == []


async def test_if_match_makes_invoice_commands_conditional(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    invoice = await draft(client, tenant, [CONSULT])
    assert invoice["version"] == 2
    stale = {**tenant.as_role("RECEPTIONIST"), "If-Match": '"1"'}
    r = await client.post(f"/v1/invoices/{invoice['id']}/issue", headers=stale)
    assert_problem(r, 412, "VERSION_CONFLICT")
    current = {**tenant.as_role("RECEPTIONIST"), "If-Match": '"2"'}
    r = await client.post(f"/v1/invoices/{invoice['id']}/issue", headers=current)
    assert r.status_code == 200 and r.headers["ETag"] == '"3"'


ODD_MONEY = ["1e2", "+5.00", "1_000.00", " 1.00", "\u0661\u0662.\u0665\u0660", "1e-2", "12.500"]


@pytest.mark.parametrize("text", ODD_MONEY)
async def test_money_is_a_plain_decimal_string_in_the_currencys_places(
    client: httpx.AsyncClient, tenant: TenantFixture, text: str
) -> None:
    invoice = await draft(client, tenant)
    r = await command(client, tenant, f"{invoice['id']}/lines", {**CONSULT, "unit_price": text})
    assert error_fields(r) == {"unit_price"}
    patient = await create_patient(client, tenant)
    body = {"patient_id": patient["id"], "lines": [{**CONSULT, "unit_price": text}]}
    r = await client.post("/v1/invoices", json=body, headers=tenant.as_role("RECEPTIONIST"))
    assert error_fields(r) == {"lines.0.unit_price"}


async def test_a_yen_invoice_has_whole_yen(client: httpx.AsyncClient) -> None:
    tenant = await new_tenant(client, currency="JPY")
    invoice = await draft(client, tenant, [{**CONSULT, "unit_price": "904"}])
    assert (invoice["currency"], invoice["total"], invoice["lines"][0]["amount"]) == (
        "JPY",
        "904",
        "904",
    )
    r = await command(client, tenant, f"{invoice['id']}/lines", {**CONSULT, "unit_price": "0.50"})
    assert error_fields(r) == {"unit_price"}
    assert "at most 0 decimal places (JPY)" in r.json()["errors"][0]["message"]


async def test_a_tenant_currency_must_be_iso_4217(client: httpx.AsyncClient) -> None:
    slug = f"clinic-{uuid.uuid4().hex[:12]}"
    body = {"name": "X", "slug": slug, "currency": "XYZ"}
    r = await client.post("/v1/tenants", json=body, headers=bearer(["PLATFORM_ADMIN"]))
    assert error_fields(r) == {"currency"}
    kwd = await new_tenant(client, currency="KWD")
    invoice = await draft(client, kwd, [{**CONSULT, "unit_price": "1.25"}])
    assert invoice["total"] == "1.250"


async def test_thresholds_and_caps_are_held_to_their_places(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    admin = tenant.as_role("CLINIC_ADMIN")
    for change in (
        {"discount_threshold_percent": "5.555"},
        {"invoice_max_total": "1e3"},
        {"invoice_max_total": "0"},
    ):
        r = await client.patch("/v1/tenant/policy", json=change, headers=admin)
        assert error_fields(r) == set(change), r.text


async def test_an_invoice_total_is_capped_by_the_tenant(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """The finance day's 1,999,999,999,980,000.00 invoice cannot be issued any more."""
    huge = {**CONSULT, "quantity": 10_000, "unit_price": "999999999.99"}
    patient = await create_patient(client, tenant)
    body = {"patient_id": patient["id"], "lines": [huge] * 2}
    r = await client.post("/v1/invoices", json=body, headers=tenant.as_role("RECEPTIONIST"))
    assert error_fields(r) == {"lines"}
    invoice = await draft(client, tenant, [CONSULT])
    admin = tenant.as_role("CLINIC_ADMIN")
    r = await client.patch("/v1/tenant/policy", json={"invoice_max_total": "100"}, headers=admin)
    assert r.status_code == 200, r.text
    r = await command(client, tenant, f"{invoice['id']}/lines", {**CONSULT, "unit_price": "20.01"})
    assert error_fields(r) == {"unit_price"}
    r = await client.patch("/v1/tenant/policy", json={"invoice_max_total": "50"}, headers=admin)
    assert r.status_code == 200, r.text
    assert_problem(await command(client, tenant, f"{invoice['id']}/issue"), 409, "INVOICE_OVER_CAP")
