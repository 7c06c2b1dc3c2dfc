"""A finance day through the API, reconciled: a dozen invoices of four patients (some discounted,
one left a draft and prepaid), random partial, exact and excess payments through the gateway
(delivered in any order and sometimes twice) and at the desk (cash, card terminal), random
refunds, credit applied from one of a patient's invoices to another, voids by credit notes; then
the tenant's ledger (GET /v1/ledger, every page) against its invoices (GET /v1/invoices): per
invoice the receivable is the balance, and per account the ledger's totals are the invoices'
sums."""

from __future__ import annotations

import random
from collections import defaultdict
from decimal import Decimal
from typing import Any

import httpx
from billing_helpers import all_invoices, capture_body, command, deliver, read_invoice, whole_ledger
from e2e_helpers import create_patient
from support import TenantFixture

SEED = 1913
INVOICES = 12
PATIENTS = 4
ACTIONS = 120
CENT = Decimal("0.01")


def _cents(rng: random.Random, low: Decimal, high: Decimal) -> Decimal:
    return Decimal(rng.randint(int(low / CENT), int(high / CENT))) * CENT


async def _bill(
    client: httpx.AsyncClient, tenant: TenantFixture, rng: random.Random, patient_id: str
) -> str:
    lines = [
        {
            "code": f"S{i}",
            "description": "service",
            "quantity": rng.randint(1, 3),
            "unit_price": str(_cents(rng, Decimal("0.01"), Decimal("150"))),
        }
        for i in range(rng.randint(1, 4))
    ]
    r = await client.post(
        "/v1/invoices",
        json={"patient_id": patient_id, "lines": lines},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert r.status_code == 201, r.text
    invoice_id = r.json()["id"]
    if rng.random() < 0.4:
        discount = {"percent": str(_cents(rng, Decimal("0"), Decimal("40"))), "reason": "x"}
        r = await command(client, tenant, f"{invoice_id}/discount", discount, "CLINIC_ADMIN")
        assert r.status_code == 200, r.text
    return str(invoice_id)


class Day:
    """The day's random actions, each through the API; what it needs to choose the next."""

    def __init__(self, client: httpx.AsyncClient, tenant: TenantFixture, rng: random.Random):
        self.client, self.tenant, self.rng = client, tenant, rng
        self.patients: dict[str, str] = {}  # invoice -> patient
        self.unissued: list[str] = []  # in creation order: the same day on every run
        self.void: set[str] = set()
        self.refundable: dict[str, tuple[str, Decimal]] = {}  # our payment id -> (invoice, left)
        self.delivered: list[dict[str, Any]] = []
        self.last = 0
        self.counts: dict[str, int] = defaultdict(int)

    async def invoice(self, invoice_id: str) -> dict[str, Any]:
        return await read_invoice(self.client, self.tenant, invoice_id, self.last)

    async def act(self, action: str) -> httpx.Response | None:
        rng, client, tenant = self.rng, self.client, self.tenant
        invoice_ids = list(self.patients)
        open_ids = [i for i in invoice_ids if i not in self.void]
        if action == "issue" and len(self.unissued) > 1:  # one invoice stays a (prepaid) draft
            invoice_id = rng.choice(self.unissued)
            self.unissued.remove(invoice_id)
            return await command(client, tenant, f"{invoice_id}/issue")
        if action == "pay":
            invoice_id = rng.choice(open_ids)
            body = capture_body(tenant, invoice_id, str(_cents(rng, CENT, Decimal("300"))))
            r = await deliver(client, body)
            self.delivered.append(body)
            self.refundable[r.json()["id"]] = (invoice_id, Decimal(body["amount"]))
            return r
        if action == "desk":
            invoice_id = rng.choice(open_ids)
            method = rng.choice(["cash", "card_terminal"])
            amount = _cents(rng, CENT, Decimal("200"))
            body = {"method": method, "amount": str(amount)}
            r = await command(client, tenant, f"{invoice_id}/payments", body)
            self.refundable[r.json()["id"]] = (invoice_id, amount)
            return r
        if action == "again" and self.delivered:
            return await deliver(client, rng.choice(self.delivered))
        if action == "refund" and self.refundable:
            payment_id = rng.choice(list(self.refundable))
            invoice_id, left = self.refundable[payment_id]
            held = Decimal((await self.invoice(invoice_id))["received"])
            amount = min(left, held, _cents(rng, CENT, Decimal("200")))
            if amount <= 0:
                return None
            body = {"payment_id": payment_id, "amount": str(amount), "reason": "x"}
            r = await command(client, tenant, f"{invoice_id}/refunds", body, "FINANCE_BILLING")
            self.refundable[payment_id] = (invoice_id, left - amount)
            if left == amount:
                del self.refundable[payment_id]
            return r
        if action == "transfer":
            return await self._transfer(rng.choice(invoice_ids))
        if action == "void" and rng.random() < 0.3:
            issued = [i for i in open_ids if i not in self.unissued]
            if issued:
                invoice_id = rng.choice(issued)
                self.void.add(invoice_id)
                body = {"reason": "entered in error"}
                return await command(client, tenant, f"{invoice_id}/void", body, "FINANCE_BILLING")
        return None

    async def _transfer(self, source_id: str) -> httpx.Response | None:
        """Some of the source's credit to an issued invoice of its patient that still owes."""
        source = await self.invoice(source_id)
        siblings = [
            i
            for i, p in self.patients.items()
            if p == self.patients[source_id] and i != source_id and i not in self.void
        ]
        for target_id in siblings:
            target = await self.invoice(target_id)
            room = min(Decimal(source["credit"]), Decimal(target["balance"]))
            if target["status"] != "draft" and room > 0:
                amount = min(room, _cents(self.rng, CENT, Decimal("100")))
                body = {"to_invoice_id": target_id, "amount": str(amount)}
                return await command(
                    self.client, self.tenant, f"{source_id}/credit-transfers", body
                )
        return None


async def test_a_day_of_payments_and_refunds_reconciles(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    rng = random.Random(SEED)
    day = Day(client, tenant, rng)
    patients = [(await create_patient(client, tenant))["id"] for _ in range(PATIENTS)]
    for i in range(INVOICES):
        invoice_id = await _bill(client, tenant, rng, patients[i % PATIENTS])
        day.patients[invoice_id] = patients[i % PATIENTS]
        day.unissued.append(invoice_id)
    actions = [
        "issue",
        "pay",
        "pay",
        "desk",
        "desk",
        "again",
        "refund",
        "refund",
        "transfer",
        "void",
    ]
    for _ in range(ACTIONS):
        action = rng.choice(actions)
        r = await day.act(action)
        if r is None:
            continue
        assert r.status_code in (200, 201), r.text
        day.counts[action] += 1
        day.last = max(day.last, r.json()["position"])
    counts, last = day.counts, day.last

    entries, totals = await whole_ledger(client, tenant, last)
    invoices = await all_invoices(client, tenant, last)
    assert len(invoices) == INVOICES
    receivable: dict[str, Decimal] = defaultdict(Decimal)
    journals: dict[str, Decimal] = defaultdict(Decimal)
    for e in entries:
        journals[e["journal_id"]] += Decimal(e["debit"]) - Decimal(e["credit"])
        if e["account"] == "accounts_receivable":
            receivable[e["invoice_id"]] += Decimal(e["debit"]) - Decimal(e["credit"])
    assert set(journals.values()) == {Decimal(0)}  # every journal balances
    for invoice in invoices:
        assert receivable[invoice["id"]] == Decimal(invoice["balance"]), invoice

    book = {t["account"]: Decimal(t["balance"]) for t in totals}
    sums = {
        key: sum((Decimal(i[key]) for i in invoices), Decimal(0))
        for key in ("balance", "paid", "refunded", "refunded_charges", "credit", "received")
    }
    credited = sum(
        (Decimal(i["credit_note"]["amount"]) for i in invoices if i["credit_note"]), Decimal(0)
    )
    assert book["accounts_receivable"] == sums["balance"]
    assert book["cash"] == sums["paid"] - sums["refunded"] == sums["received"]
    assert book.get("refunds", Decimal(0)) == sums["refunded_charges"]
    assert book.get("credit_transfers", Decimal(0)) == 0  # a clearing account
    assert book.get("credit_notes", Decimal(0)) == credited
    statuses = sorted({i["status"] for i in invoices})
    print(  # the numbers of this reconciliation, for the record (pytest -s shows them)
        f"\nRECONCILED seed={SEED} actions={dict(counts)} invoices={len(invoices)}"
        f" statuses={statuses} journals={len(journals)} entries={len(entries)}"
        f" ledger={ {k: str(v) for k, v in sorted(book.items())} }"
        f" invoices_balance={sums['balance']} credit={sums['credit']}"
        f" paid={sums['paid']} refunded={sums['refunded']}"
        f" refunded_charges={sums['refunded_charges']} credit_notes={credited}"
    )
    assert {"draft", "paid", "void"} <= set(statuses)
    assert {"desk", "transfer", "void", "refund"} <= set(counts)
