"""HTTP routes of billing commands: invoices, their lines, discount, issue, refunds, payments
taken at the desk, credit applied to another invoice, void."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from backend.api.commands import execute
from backend.api.deps import require, tenant_of
from backend.api.types import Text, Whole
from backend.auth.principal import Principal, Role
from backend.billing import service
from backend.billing.desk import Method
from backend.billing.payment import refund_id_for
from backend.billing.schemas import Amount, Percent, PositiveAmount
from backend.kernel.charges import MAX_CODE, MAX_DESCRIPTION, MAX_LINES, MAX_QUANTITY, NewLine

router = APIRouter(prefix="/v1/invoices", tags=["billing"])
Billing = Annotated[
    Principal, Depends(require(Role.RECEPTIONIST, Role.FINANCE_BILLING, Role.CLINIC_ADMIN))
]
Refunding = Annotated[Principal, Depends(require(Role.FINANCE_BILLING, Role.CLINIC_ADMIN))]


class InvoiceLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Text = Field(min_length=1, max_length=MAX_CODE)
    description: Text = Field(min_length=1, max_length=MAX_DESCRIPTION)
    quantity: Whole = Field(ge=1, le=MAX_QUANTITY)
    unit_price: Amount

    def new_line(self) -> NewLine:
        return NewLine(self.code, self.description, self.quantity, self.unit_price)


class NewInvoice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient_id: UUID
    visit_id: UUID | None = None
    lines: list[InvoiceLine] = Field(default_factory=list, max_length=MAX_LINES)


class Discount(BaseModel):
    model_config = ConfigDict(extra="forbid")
    percent: Percent
    reason: Text = Field(min_length=1, max_length=500)


class NewRefund(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payment_id: UUID = Field(description="our payment id (the webhook's `id`)")
    amount: PositiveAmount
    reason: Text = Field(min_length=1, max_length=500)


class DeskPayment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Method
    amount: PositiveAmount = Field(description="in the invoice's currency")


class CreditTransfer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to_invoice_id: UUID = Field(description="another issued invoice of the same patient")
    amount: PositiveAmount


class Void(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text = Field(min_length=1, max_length=500)


@router.post("", status_code=201)
async def draft_invoice(body: NewInvoice, request: Request, principal: Billing) -> Response:
    lines = [line.new_line() for line in body.lines]
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.draft_invoice(s, uuid4(), body.patient_id, body.visit_id, lines),
        status_code=201,
    )


@router.post("/{invoice_id}/lines", status_code=201)
async def add_line(
    invoice_id: UUID, body: InvoiceLine, request: Request, principal: Billing
) -> Response:
    line_id = uuid4()
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.add_line(s, invoice_id, line_id, body.new_line()),
        status_code=201,
    )


@router.delete("/{invoice_id}/lines/{line_id}")
async def remove_line(
    invoice_id: UUID, line_id: UUID, request: Request, principal: Billing
) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.remove_line(s, invoice_id, line_id),
    )


@router.post("/{invoice_id}/discount")
async def apply_discount(
    invoice_id: UUID, body: Discount, request: Request, principal: Billing
) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.apply_discount(s, invoice_id, body.percent, body.reason),
    )


@router.post("/{invoice_id}/issue")
async def issue(invoice_id: UUID, request: Request, principal: Billing) -> Response:
    return await execute(
        request, principal, tenant_of(principal), lambda s: service.issue(s, invoice_id)
    )


@router.post("/{invoice_id}/refunds", status_code=201)
async def refund(
    invoice_id: UUID, body: NewRefund, request: Request, principal: Refunding
) -> Response:
    gateway = request.app.state.gateway
    tenant_id = tenant_of(principal)
    key = request.headers.get("idempotency-key")
    refund_id = uuid4() if key is None else refund_id_for(tenant_id, principal.actor, key)
    return await execute(
        request,
        principal,
        tenant_id,
        lambda s: service.refund(
            s, gateway, invoice_id, refund_id, body.payment_id, body.amount, body.reason
        ),
        status_code=201,
    )


@router.post("/{invoice_id}/payments", status_code=201)
async def take_at_desk(
    invoice_id: UUID, body: DeskPayment, request: Request, principal: Billing
) -> Response:
    """Money taken at the desk; answers with the payment (its `id` is what a refund names)."""
    desk_id = uuid4()
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.take_at_desk(s, invoice_id, body.method, desk_id, body.amount),
        status_code=201,
    )


@router.post("/{invoice_id}/credit-transfers")
async def transfer_credit(
    invoice_id: UUID, body: CreditTransfer, request: Request, principal: Billing
) -> Response:
    """This invoice's credit applied to another invoice of the patient; answers with this one."""
    transfer_id = uuid4()
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.transfer_credit(
            s, invoice_id, body.to_invoice_id, transfer_id, body.amount
        ),
    )


@router.post("/{invoice_id}/void")
async def void(invoice_id: UUID, body: Void, request: Request, principal: Refunding) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.void(s, invoice_id, body.reason),
    )
