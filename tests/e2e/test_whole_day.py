"""The whole day through HTTP: an appointment booked, confirmed (one reminder), checked in, its
visit charted and signed off, the invoice a reaction drafts issued and paid through webhooks
delivered twice and out of order, one receipt per payment, a balanced ledger, and the front
desk's day showing the appointment paid."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

import httpx
from billing_helpers import capture_body, deliver, read_invoice
from dayflow_helpers import front_desk_day, reaction_passed, utc_day, visit_invoice
from e2e_helpers import act, book, create_patient, create_practitioner, now
from notification_helpers import WAIT_SECONDS, no_quiet_hours, notifications_of, wait_for
from support import TenantFixture
from visit_helpers import NOTE

CONSULT = {"code": "CONSULT", "description": "Consultation", "quantity": 1, "unit_price": "80.00"}


async def post(
    client: httpx.AsyncClient,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
    method: str = "POST",
    status: int = 200,
) -> dict[str, Any]:
    r = await client.request(method, path, json=body, headers=headers)
    assert r.status_code == status, r.text
    result: dict[str, Any] = r.json()
    return result


async def all_sent(
    client: httpx.AsyncClient, tenant: TenantFixture, patient_id: str, count: int
) -> list[dict[str, Any]]:
    """The patient's messages once the dispatcher has sent every one of them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while True:
        messages = await notifications_of(client, tenant, patient_id)
        if len(messages) == count and all(n["status"] == "sent" for n in messages):
            return messages
        assert loop.time() < deadline, messages
        await asyncio.sleep(0.1)


def assert_balanced(entries: list[dict[str, Any]], totals: list[dict[str, Any]]) -> None:
    journals: dict[str, Decimal] = defaultdict(Decimal)
    for e in entries:
        journals[e["journal_id"]] += Decimal(e["debit"]) - Decimal(e["credit"])
    assert journals and all(v == 0 for v in journals.values()), journals
    assert sum(Decimal(t["debit"]) for t in totals) == sum(Decimal(t["credit"]) for t in totals)


async def test_the_whole_day_of_one_appointment(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await no_quiet_hours(client, tenant)
    front_desk = tenant.as_role("RECEPTIONIST")
    patient = await create_patient(client, tenant, phone="+1 212 555 0100")
    doctor = await create_practitioner(client, tenant, "Dr. Miranda Bailey")
    doctor_headers = tenant.as_role("DOCTOR", actor=doctor["id"])
    start = now() + dt.timedelta(minutes=10)

    r = await book(
        client, tenant, patient["id"], doctor["id"], start, start + dt.timedelta(minutes=30)
    )
    assert r.status_code == 201, r.text
    appointment_id = r.json()["id"]
    await act(client, tenant, appointment_id, "confirm")
    # The reminder goes out while the appointment is confirmed: once the patient is checked
    # in, a reminder still pending is withdrawn instead. Wait for it to be sent.
    await wait_for(client, tenant, patient["id"], "sent")
    await act(client, tenant, appointment_id, "check-in")

    visit = await post(
        client,
        "/v1/visits",
        {
            "patient_id": patient["id"],
            "practitioner_id": doctor["id"],
            "appointment_id": appointment_id,
        },
        front_desk,
        status=201,
    )
    vid = visit["id"]
    await post(client, f"/v1/visits/{vid}/vitals", {"heart_rate": 72, "spo2": 98}, doctor_headers)
    await post(client, f"/v1/visits/{vid}/note", NOTE, doctor_headers, method="PUT")
    await post(client, f"/v1/visits/{vid}/services", CONSULT, front_desk)
    signed = await post(client, f"/v1/visits/{vid}/sign-off", None, doctor_headers)
    assert signed["status"] == "signed"

    invoice = await visit_invoice(client, tenant, vid)
    assert (invoice["status"], invoice["total"], invoice["currency"]) == ("draft", "80.00", "USD")
    assert [x["code"] for x in invoice["lines"]] == ["CONSULT"]
    issued = await post(client, f"/v1/invoices/{invoice['id']}/issue", None, front_desk)
    assert issued["status"] == "issued"

    part = capture_body(tenant, invoice["id"], "30.00")
    rest = capture_body(tenant, invoice["id"], "50.00")
    answers = []
    for body in (part, part, rest, part, rest):  # a duplicate of the first after the second
        r = await deliver(client, body)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "captured"
        answers.append(r.json())
    assert answers[1]["id"] == answers[0]["id"] == answers[3]["id"]
    last = max(a["position"] for a in answers)
    paid = await read_invoice(client, tenant, invoice["id"], last)
    assert (paid["status"], paid["paid"], paid["balance"]) == ("paid", "80.00", "0.00")
    assert len(paid["payment_ids"]) == 2

    books = []
    for params in ({"invoice_id": invoice["id"]}, {}):  # the invoice's, and the tenant's
        r = await client.get(
            "/v1/ledger",
            params={**params, "min_position": last},
            headers=tenant.as_role("FINANCE_BILLING"),
        )
        assert r.status_code == 200, r.text
        books.append(r.json())
        assert_balanced(books[-1]["items"], books[-1]["totals"])
    assert books[0]["items"] == books[1]["items"]  # the tenant's only invoice
    journals = {e["journal_id"] for e in books[0]["items"]}
    assert len(journals) == 3  # the issue and two payments: no duplicate journal

    for name in ("appointment-reminder", "visit-invoice", "payment-receipt"):
        await reaction_passed(client, tenant, name, last)
    after = await create_patient(client, tenant)  # written after every reaction's commands
    messages = await notifications_of(
        client, tenant, patient["id"], min_position=str(after["position"])
    )
    reminders = [n for n in messages if n["template"] == "appointment_reminder"]
    assert len(reminders) == 1
    receipts = [n for n in messages if n["template"] == "payment_receipt"]
    amounts = sorted(n["body"].split(" of ")[1].split(" for ")[0] for n in receipts)
    assert amounts == ["30.00 USD", "50.00 USD"]
    assert all(invoice["id"] in n["body"] for n in receipts)
    assert len({n["source_event_id"] for n in receipts}) == 2  # one per captured payment
    sent = await all_sent(client, tenant, patient["id"], 3)
    assert {n["channel"] for n in sent} == {"sms"}

    r = await front_desk_day(client, tenant, utc_day(start), last)
    assert r.status_code == 200, r.text
    assert int(r.headers["X-Projection-Position"]) >= last
    (item,) = [x for x in r.json()["items"] if x["appointment_id"] == appointment_id]
    assert item["status"] == "checked_in"
    assert item["patient"] == {
        "id": patient["id"],
        "name": f"{patient['given_name']} {patient['family_name']}",
    }
    assert item["practitioner"] == {"id": doctor["id"], "name": "Dr. Miranda Bailey"}
    assert item["visit"] == {"id": vid, "status": "signed"}
    assert item["payment"] == {
        "status": "paid",
        "invoice_id": invoice["id"],
        "currency": "USD",
        "total": "80.00",
        "balance": "0.00",
    }
