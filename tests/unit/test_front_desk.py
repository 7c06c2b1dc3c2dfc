"""The front desk's day (pure parts): which invoice a visit shows, and the reactions that feed
it listed once each."""

from __future__ import annotations

import uuid

from backend import catalog
from backend.billing.events import PaymentCaptured
from backend.billing.visit import visit_invoice_id
from backend.frontdesk.router import READ_MODELS, invoice_per_visit
from backend.visits.events import VisitSignedOff

VISIT = uuid.UUID("00000000-0000-4000-8000-0000000000a1")
OTHER_VISIT = uuid.UUID("00000000-0000-4000-8000-0000000000a2")


def invoice(invoice_id: uuid.UUID, visit_id: uuid.UUID) -> dict[str, object]:
    return {"invoice_id": invoice_id, "visit_id": visit_id, "status": "draft"}


def test_the_invoice_billing_drafted_for_the_visit_wins_whatever_its_order() -> None:
    own = invoice(visit_invoice_id(VISIT), VISIT)
    by_hand = invoice(uuid.UUID(int=1), VISIT)
    later = invoice(uuid.UUID(int=2**128 - 1), VISIT)
    for rows in ([by_hand, own, later], [own, by_hand], [later, by_hand, own]):
        assert invoice_per_visit(rows) == {VISIT: own}


def test_without_its_own_invoice_a_visit_shows_the_first_drafted_by_hand() -> None:
    first = invoice(uuid.UUID(int=1), VISIT)
    second = invoice(uuid.UUID(int=2), VISIT)
    elsewhere = invoice(uuid.UUID(int=3), OTHER_VISIT)
    assert invoice_per_visit([first, second, elsewhere]) == {VISIT: first, OTHER_VISIT: elsewhere}
    assert invoice_per_visit([]) == {}


def test_the_day_waits_for_every_read_model_it_joins() -> None:
    """The front desk names the read models it joins (it may not import them): each name is a
    read model the processes run, and its table is the one the day's SQL reads."""
    assert set(READ_MODELS) == {"appointments", "patients", "practitioners", "visits", "invoices"}
    tables = {name: catalog.READ_MODELS_BY_NAME[name].table for name in READ_MODELS}
    assert tables == {name: f"rm_{name}" for name in READ_MODELS}


def test_each_reaction_is_registered_once_on_its_event() -> None:
    by_name = {r.name: r.event_types for r in catalog.REACTIONS}
    assert len(by_name) == len(catalog.REACTIONS)
    assert by_name["visit-invoice"] == {VisitSignedOff.type_name()}
    assert by_name["payment-receipt"] == {PaymentCaptured.type_name()}
    assert catalog.REACTIONS[0].name == "appointment-reminder"
