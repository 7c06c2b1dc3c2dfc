"""The payment gateway's webhook: no JWT; the X-Signature header authenticates the body.

The tenant comes from the signed body. That is data we handed the gateway when the checkout was
created, returned to us under the provider's HMAC, so only we (who created the checkout) and the
gateway can have chosen it: as trustworthy as the principal of a JWT, and nothing else on this
route names a tenant.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Annotated
from uuid import UUID

import pydantic
from fastapi import APIRouter, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.responses import Response

from backend.api.deps import context_for
from backend.api.problems import ApiError, problem
from backend.api.reads import json_response
from backend.api.types import Instant, Text
from backend.auth.principal import Principal
from backend.billing import service
from backend.billing.gateway import PaymentGateway
from backend.billing.payment import Capture
from backend.billing.schemas import PositiveAmount
from backend.handling import run_command
from backend.kernel import money
from backend.kernel.errors import Invalid, NotFound

router = APIRouter(prefix="/v1/payments", tags=["billing"])
CAPTURED = "payment.captured"
REFUSAL_FIELDS = {
    "CURRENCY_MISMATCH": "currency",
    "UNKNOWN_INVOICE": "invoice_id",
    "INVOICE_VOID": "invoice_id",
    "PAYMENT_CLAIMED_ELSEWHERE": "payment_id",
}


class GatewayNotice(BaseModel):
    event: Text = Field(min_length=1, max_length=100)
    payment_id: Text = Field(min_length=1, max_length=200, description="the provider's id")
    tenant_id: UUID
    invoice_id: UUID
    amount: PositiveAmount
    currency: Text = Field(pattern=r"^[A-Z]{3}$")
    occurred_at: Instant


def _amount(notice: GatewayNotice) -> Decimal:
    """The captured amount in its currency's places (ISO 4217); nothing is recorded for a
    currency that is not one, or an amount with more places than it has."""
    try:
        money.minor_units(notice.currency)
    except ValueError as e:
        raise Invalid("currency", str(e)) from None
    try:
        return money.in_currency(notice.amount, notice.currency, positive=True)
    except ValueError as e:
        raise Invalid("amount", str(e)) from None


@router.post("/webhook/{provider}", openapi_extra={"security": []})
async def payment_webhook(
    provider: str,
    request: Request,
    x_signature: Annotated[str | None, Header(description="sha256=<hex HMAC-SHA256>")] = None,
) -> Response:
    gateway: PaymentGateway = request.app.state.gateway
    if not gateway.knows(provider):
        raise NotFound(f"no payment provider {provider}")
    raw = await request.body()
    if not gateway.verify_signature(provider, raw, x_signature):
        raise ApiError(401, "BAD_SIGNATURE", "X-Signature does not sign this body")
    try:
        notice = GatewayNotice.model_validate_json(raw)
    except pydantic.ValidationError as e:
        raise RequestValidationError(e.errors()) from e
    if notice.event != CAPTURED:
        return json_response({"status": "ignored", "event": notice.event})
    principal = Principal(f"gateway:{provider}", notice.tenant_id, frozenset())
    request.state.principal = principal  # the request log names the tenant and the gateway
    capture = Capture(
        provider, notice.payment_id, notice.invoice_id, _amount(notice), notice.currency
    )
    # No If-Match here: concurrent deliveries must retry into the duplicate path, not fail.
    ctx = dataclasses.replace(context_for(request, principal), if_match=None)
    result = await run_command(
        request.app.state.store,
        ctx,
        notice.tenant_id,
        lambda s: service.capture_payment(s, capture, notice.occurred_at),
    )
    code = result.view["refusal_code"]
    if code is not None:
        detail = f"payment {result.id} recorded as refused: {result.view['refusal_detail']}"
        errors = [{"field": REFUSAL_FIELDS.get(code, "body"), "message": detail}]
        return problem(422, code, detail, errors=errors)
    return json_response(result.body(), {"ETag": f'"{result.version}"'})
