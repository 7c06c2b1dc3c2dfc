"""The invoice aggregate: drafting, lines, discounts and their threshold, issue, status."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from backend.billing import model
from backend.billing.events import (
    DiscountApplied,
    InvoiceDrafted,
    InvoiceIssued,
    InvoiceLineAdded,
    InvoiceLineRemoved,
    PaymentApplied,
    RefundIssued,
)
from backend.billing.model import INVOICE, DiscountNeedsApproval, Invoice
from backend.kernel.charges import NewLine
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent

INV = uuid.UUID("10000000-0000-4000-8000-000000000001")
PAT = uuid.UUID("20000000-0000-4000-8000-000000000002")
L1 = uuid.UUID("30000000-0000-4000-8000-000000000003")
L2 = uuid.UUID("30000000-0000-4000-8000-000000000004")
PAY = uuid.UUID("40000000-0000-4000-8000-000000000005")
TEN = Decimal("10")
CONSULT = NewLine("CONSULT", "Consultation", 1, Decimal("80.00"))
LAB = NewLine("LAB", "Blood panel", 3, Decimal("6.67"))


def D(text: str) -> Decimal:
    return Decimal(text)


def drafted(*lines: tuple[uuid.UUID, NewLine]) -> Invoice:
    return INVOICE.fold(model.draft(Invoice(), INV, PAT, None, "EUR", list(lines)))


def issued(*lines: tuple[uuid.UUID, NewLine], percent: str = "0") -> Invoice:
    state = drafted(*lines)
    if percent != "0":
        state = _then(state, model.apply_discount(state, D(percent), "ok", TEN, True))
    return _then(state, model.issue(state))


def _then(state: Invoice, events: list[DomainEvent]) -> Invoice:
    for event in events:
        state = model.evolve(state, event)
    return state


def test_draft_records_the_invoice_and_its_lines() -> None:
    events = model.draft(Invoice(), INV, PAT, None, "EUR", [(L1, CONSULT), (L2, LAB)])
    assert events == [
        InvoiceDrafted(INV, PAT, None, "EUR"),
        InvoiceLineAdded(INV, L1, "CONSULT", "Consultation", 1, D("80.00")),
        InvoiceLineAdded(INV, L2, "LAB", "Blood panel", 3, D("6.67")),
    ]
    state = INVOICE.fold(events)
    assert (state.status, state.subtotal, state.total) == ("draft", D("100.01"), D("100.01"))


def test_a_second_draft_of_the_same_invoice_is_refused() -> None:
    with pytest.raises(Conflict) as e:
        model.draft(drafted(), INV, PAT, None, "EUR", [])
    assert e.value.code == "INVOICE_EXISTS"


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (NewLine(" ", "x", 1, D("1")), "code"),
        (NewLine("X" * 51, "x", 1, D("1")), "code"),
        (NewLine("X", "x" * 501, 1, D("1")), "description"),
        (NewLine("X", "  ", 1, D("1")), "description"),
        (NewLine("X", "x", 0, D("1")), "quantity"),
        (NewLine("X", "x", 10_001, D("1")), "quantity"),
        (NewLine("X", "x", 1, D("-0.01")), "unit_price"),
        (NewLine("X", "x", 1, D("1.005")), "unit_price"),
        (NewLine("X", "x", 1, D("1000000000")), "unit_price"),
    ],
)
def test_bad_lines_are_refused_naming_the_field(line: NewLine, field: str) -> None:
    with pytest.raises(Invalid) as e:
        model.add_line(drafted(), L1, line)
    assert e.value.field == field


def test_lines_are_trimmed_and_priced_to_the_cent() -> None:
    [event] = model.add_line(drafted(), L1, NewLine(" A1 ", " Dressing ", 2, D("3.5")))
    assert event == InvoiceLineAdded(INV, L1, "A1", "Dressing", 2, D("3.50"))
    assert str(event.unit_price) == "3.50"


def test_a_free_line_is_allowed() -> None:
    [event] = model.add_line(drafted(), L1, NewLine("FU", "Follow-up", 1, D("0")))
    assert isinstance(event, InvoiceLineAdded) and event.unit_price == 0


def test_at_most_200_lines() -> None:
    state = drafted(*((uuid.uuid4(), CONSULT) for _ in range(model.MAX_LINES)))
    with pytest.raises(Invalid) as e:
        model.add_line(state, L1, CONSULT)
    assert e.value.field == "lines"
    with pytest.raises(Invalid):
        model.draft(Invoice(), INV, PAT, None, "EUR", [(uuid.uuid4(), CONSULT)] * 201)


def test_removing_a_line_reprices_the_draft() -> None:
    state = drafted((L1, CONSULT), (L2, LAB))
    events = model.remove_line(state, L1)
    assert events == [InvoiceLineRemoved(INV, L1)]
    after = _then(state, events)
    assert [x.id for x in after.lines] == [L2]
    assert after.total == D("20.01")


def test_removing_an_unknown_line_is_not_found() -> None:
    with pytest.raises(NotFound):
        model.remove_line(drafted((L1, CONSULT)), L2)


def test_commands_on_a_missing_invoice_are_not_found() -> None:
    for command in (
        lambda: model.add_line(Invoice(), L1, CONSULT),
        lambda: model.remove_line(Invoice(), L1),
        lambda: model.apply_discount(Invoice(), TEN, "x", TEN, True),
        lambda: model.issue(Invoice()),
    ):
        with pytest.raises(NotFound):
            command()


# --- discounts ----------------------------------------------------------------------------------


def test_a_discount_at_the_threshold_needs_no_approval() -> None:
    events = model.apply_discount(drafted((L1, CONSULT)), D("10"), " loyal ", TEN, False)
    assert events == [DiscountApplied(INV, D("10"), "loyal")]


def test_a_discount_above_the_threshold_needs_an_approver() -> None:
    state = drafted((L1, CONSULT))
    with pytest.raises(DiscountNeedsApproval) as e:
        model.apply_discount(state, D("10.01"), "loyal", TEN, False)
    assert (e.value.code, e.value.status) == ("DISCOUNT_NEEDS_APPROVAL", 403)
    assert model.apply_discount(state, D("100"), "staff", TEN, True) == [
        DiscountApplied(INV, D("100"), "staff")
    ]


def test_a_zero_threshold_makes_every_discount_need_approval() -> None:
    with pytest.raises(DiscountNeedsApproval):
        model.apply_discount(drafted(), D("0.01"), "x", D("0"), False)
    assert model.apply_discount(drafted(), D("0"), "no discount", D("0"), False)


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_discount_needs_a_reason(reason: str) -> None:
    with pytest.raises(Invalid) as e:
        model.apply_discount(drafted(), D("5"), reason, TEN, True)
    assert e.value.field == "reason"


@pytest.mark.parametrize("percent", ["-1", "100.01"])
def test_a_discount_is_a_percentage(percent: str) -> None:
    with pytest.raises(Invalid) as e:
        model.apply_discount(drafted(), D(percent), "x", TEN, True)
    assert e.value.field == "percent"


def test_the_latest_discount_replaces_the_earlier_one() -> None:
    state = drafted((L1, CONSULT))
    state = _then(state, model.apply_discount(state, D("10"), "a", TEN, True))
    state = _then(state, model.apply_discount(state, D("5"), "b", TEN, True))
    assert (state.discount_percent, state.discount_reason) == (D("5"), "b")
    assert (state.subtotal, state.discount, state.total) == (D("80.00"), D("4.00"), D("76.00"))


# --- issue --------------------------------------------------------------------------------------


def test_issue_records_the_computed_totals() -> None:
    state = drafted((L1, CONSULT), (L2, LAB))  # 80.00 + 3 x 6.67 = 100.01
    state = _then(state, model.apply_discount(state, D("12.5"), "x", TEN, True))
    events = model.issue(state)
    # 12.5 % of 100.01 = 12.50125 -> 12.50
    assert events == [InvoiceIssued(INV, "EUR", D("100.01"), D("12.50"), D("87.51"))]
    after = _then(state, events)
    assert (after.status, after.total, after.balance) == ("issued", D("87.51"), D("87.51"))


def test_the_discount_rounds_half_up() -> None:
    state = drafted((L1, NewLine("X", "x", 1, D("0.05"))))
    state = _then(state, model.apply_discount(state, D("50"), "x", TEN, True))
    [event] = model.issue(state)
    assert isinstance(event, InvoiceIssued)
    assert (event.discount, event.total) == (D("0.03"), D("0.02"))


def test_an_empty_invoice_cannot_be_issued() -> None:
    with pytest.raises(Conflict) as e:
        model.issue(drafted())
    assert e.value.code == "INVOICE_EMPTY"
    emptied = _then(drafted((L1, CONSULT)), [InvoiceLineRemoved(INV, L1)])
    with pytest.raises(Conflict):
        model.issue(emptied)


def test_an_issued_invoice_no_longer_changes() -> None:
    state = issued((L1, CONSULT))
    for command in (
        lambda: model.add_line(state, L2, LAB),
        lambda: model.remove_line(state, L1),
        lambda: model.apply_discount(state, D("5"), "x", TEN, True),
        lambda: model.issue(state),
    ):
        with pytest.raises(Conflict) as e:
            command()
        assert e.value.code == "INVOICE_ISSUED"


def test_a_fully_discounted_invoice_is_paid_at_issue() -> None:
    state = issued((L1, CONSULT), percent="100")
    assert (state.total, state.status) == (D("0.00"), "paid")


# --- status from payments and refunds -----------------------------------------------------------


def _paid(state: Invoice, *amounts: str) -> Invoice:
    return _then(state, [PaymentApplied(INV, uuid.uuid4(), D(a)) for a in amounts])


def _refund(amount: str, returned_credit: str = "0") -> RefundIssued:
    return RefundIssued(uuid.uuid4(), PAY, INV, D(amount), "EUR", "x", "ref", D(returned_credit))


def test_status_follows_the_sums() -> None:
    state = issued((L1, CONSULT))  # 80.00
    assert _paid(state, "30.00").status == "partially_paid"
    assert _paid(state, "30.00", "50.00").status == "paid"
    assert _paid(state, "50.00", "30.00").status == "paid"  # any order
    over = _paid(state, "100.00")
    assert (over.status, over.balance) == ("paid", D("-20.00"))
    assert model.view(over)["credit"] == "20.00"
    # A refund cancels that much of the charge: nothing more is owed for it.
    partly_refunded = _then(_paid(state, "80.00"), [_refund("10.00")])
    assert (partly_refunded.status, partly_refunded.balance) == ("paid", D("0.00"))
    assert (partly_refunded.owed, partly_refunded.refunded_charges) == (D("70.00"), D("10.00"))
    refunded = _then(_paid(state, "80.00"), [_refund("80.00")])
    assert (refunded.status, refunded.balance) == ("refunded", D("0.00"))
    # A refund that gives back an overpayment leaves the charge as it was.
    returned = _then(over, [_refund("20.00", returned_credit="20.00")])
    assert (returned.status, returned.balance, returned.owed) == ("paid", D("0.00"), D("80.00"))
    half_paid = _then(_paid(state, "40.00"), [_refund("40.00")])
    assert (half_paid.status, half_paid.balance) == ("refunded", D("40.00"))


def test_a_draft_owes_nothing_yet() -> None:
    """The balance is the receivable: a draft's running total is not owed before issue, and a
    prepayment is a credit."""
    state = drafted((L1, CONSULT))
    assert (state.total, state.balance) == (D("80.00"), D("0.00"))
    prepaid = _paid(state, "30.00")
    assert (prepaid.balance, prepaid.credit) == (D("-30.00"), D("30.00"))


def test_a_payment_on_a_draft_counts_once_it_is_issued() -> None:
    draft = _paid(drafted((L1, CONSULT)), "80.00")
    assert (draft.status, draft.paid) == ("draft", D("80.00"))
    assert _then(draft, model.issue(draft)).status == "paid"


def test_view_sends_money_as_strings() -> None:
    view = model.view(_paid(issued((L1, CONSULT), (L2, LAB)), "10"))
    for key in ("subtotal", "discount", "total", "paid", "refunded", "balance", "credit"):
        assert isinstance(view[key], str), key
    assert view["lines"][1] == {
        "line_id": L2,
        "code": "LAB",
        "description": "Blood panel",
        "quantity": 3,
        "unit_price": "6.67",
        "amount": "20.01",
    }


# --- currencies and the cap ---------------------------------------------------------------------


def _in(currency: str, *lines: NewLine) -> Invoice:
    numbered = [(uuid.uuid4(), line) for line in lines]
    return INVOICE.fold(model.draft(Invoice(), INV, PAT, None, currency, numbered))


def test_unit_prices_have_the_currencys_places() -> None:
    yen = NewLine("C", "Consult", 1, D("0.50"))
    with pytest.raises(Invalid) as e:
        _in("JPY", yen)
    assert (e.value.field, e.value.message) == (
        "lines.0.unit_price",
        "at most 0 decimal places (JPY)",
    )
    with pytest.raises(Invalid):
        model.add_line(_in("JPY"), L1, yen)
    state = _in("JPY", NewLine("C", "Consult", 3, D("301")), NewLine("L", "Lab", 1, D("2")))
    state = _then(state, model.apply_discount(state, D("10"), "ok", TEN, True))
    [issued_event] = model.issue(state)
    assert issued_event == InvoiceIssued(INV, "JPY", D("905"), D("91"), D("814"))
    view = model.view(_then(state, [issued_event]))
    assert (view["subtotal"], view["discount"], view["total"], view["balance"]) == (
        "905",
        "91",
        "814",
        "814",
    )
    dinar = _in("KWD", NewLine("C", "Consult", 1, D("1.25")))
    assert model.view(dinar)["lines"][0]["unit_price"] == "1.250"
    with pytest.raises(Invalid):
        _in("KWD", NewLine("C", "Consult", 1, D("1.2345")))


def test_an_invoice_stays_within_the_tenants_cap() -> None:
    cap = D("100.00")
    with pytest.raises(Invalid) as e:
        model.draft(Invoice(), INV, PAT, None, "EUR", [(L1, CONSULT), (L2, CONSULT)], cap)
    assert e.value.field == "lines"
    state = INVOICE.fold(model.draft(Invoice(), INV, PAT, None, "EUR", [(L1, CONSULT)], cap))
    with pytest.raises(Invalid) as e:
        model.add_line(state, L2, NewLine("X", "x", 3, D("6.67")), cap)  # 80.00 + 20.01
    assert e.value.field == "unit_price"
    assert model.add_line(state, L2, NewLine("X", "x", 3, D("6.66")), cap)  # exactly 99.98
    with pytest.raises(Conflict) as c:
        model.issue(state, D("79.99"))  # the cap was lowered after the line was added
    assert c.value.code == "INVOICE_OVER_CAP"
