"""Message templates (pure): `{placeholder}` bodies checked when set, rendered without eval.

A body may only name the placeholders its template is rendered with (PLACEHOLDERS_OF for the
built-in names, any of PLACEHOLDERS for another name), bare (no attribute, index, conversion or
format spec), so rendering with `str.format_map` can never reach into an object. A tenant that
has not set a template gets the built-in default of that name.
"""

from __future__ import annotations

import re
import string
import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Invalid
from backend.kernel.events import DomainEvent
from backend.notifications.events import NotificationTemplateSet

CHANNELS = frozenset({"sms", "whatsapp", "email"})
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
MAX_BODY = 2000
APPOINTMENT_REMINDER = "appointment_reminder"
PAYMENT_RECEIPT = "payment_receipt"
WAITLIST_OFFER = "waitlist_offer"
PLACEHOLDERS_OF = {
    APPOINTMENT_REMINDER: frozenset({"patient_name", "start", "practitioner_name"}),
    PAYMENT_RECEIPT: frozenset({"patient_name", "amount", "currency", "invoice_id"}),
    WAITLIST_OFFER: frozenset(
        {"patient_name", "start", "practitioner_name", "expires", "offer_id"}
    ),
}
"""What each built-in template is rendered with: a body naming anything else is refused."""
PLACEHOLDERS = frozenset(p for names in PLACEHOLDERS_OF.values() for p in names)
_NAMESPACE = uuid.UUID("6f0b8a8e-2f4b-4d43-9a0e-5d1f2a7c9b31")


@dataclass(frozen=True)
class Template:
    name: str = ""
    channel: str = "sms"
    body: str = ""


DEFAULTS = {
    APPOINTMENT_REMINDER: Template(
        APPOINTMENT_REMINDER,
        "sms",
        "Hello {patient_name}, this is a reminder of your appointment with"
        " {practitioner_name} on {start}.",
    ),
    PAYMENT_RECEIPT: Template(
        PAYMENT_RECEIPT,
        "sms",
        "Hello {patient_name}, we received your payment of {amount} {currency}"
        " for invoice {invoice_id}. Thank you.",
    ),
    WAITLIST_OFFER: Template(
        WAITLIST_OFFER,
        "sms",
        "Hello {patient_name}, a slot with {practitioner_name} on {start} is free. Accept it"
        " by {expires} (offer {offer_id}); after that it goes to the next patient waiting.",
    ),
}


def template_stream_id(tenant_id: UUID, name: str) -> UUID:
    """One stream per tenant and template name."""
    return uuid.uuid5(_NAMESPACE, f"{tenant_id}/{name}")


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise Invalid("name", "lowercase letters, digits, _ or -, starting with a letter")
    return name


def placeholders_of(name: str) -> frozenset[str]:
    return PLACEHOLDERS_OF.get(name, PLACEHOLDERS)


def placeholders(body: str, known: frozenset[str] = PLACEHOLDERS) -> list[str]:
    """The placeholders a body names, refusing anything but bare `known` names."""
    try:
        parts = list(string.Formatter().parse(body))
    except ValueError as e:
        raise Invalid("body", f"malformed braces: {e}") from None
    names = []
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in known:
            listed = ", ".join(f"{{{p}}}" for p in sorted(known))
            raise Invalid("body", f"unknown placeholder {{{field}}}; known: {listed}")
        if spec or conversion:
            raise Invalid("body", f"placeholder {{{field}}} takes no conversion or format")
        names.append(field)
    return names


def set_template(name: str, channel: str, body: str) -> list[DomainEvent]:
    check_name(name)
    if channel not in CHANNELS:
        raise Invalid("channel", f"one of {', '.join(sorted(CHANNELS))}")
    if not body.strip():
        raise Invalid("body", "must not be blank")
    if len(body) > MAX_BODY:
        raise Invalid("body", f"at most {MAX_BODY} characters")
    placeholders(body, placeholders_of(name))
    return [NotificationTemplateSet(name, channel, body)]


class _Values(dict[str, str]):
    """Leaves an unknown placeholder as written instead of failing (defence in depth: bodies
    are checked when set)."""

    def __missing__(self, key: str) -> str:
        return f"{{{key}}}"


def render(body: str, values: dict[str, str]) -> str:
    placeholders(body)
    return body.format_map(_Values(values))


def evolve(state: Template, event: DomainEvent) -> Template:
    if isinstance(event, NotificationTemplateSet):
        return Template(event.name, event.channel, event.body)
    return state


def view(state: Template) -> dict[str, Any]:
    return {"name": state.name, "channel": state.channel, "body": state.body}


TEMPLATE = register_aggregate(Aggregate("notification_template", Template, evolve, view))
