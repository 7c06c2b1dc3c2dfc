"""Every reaction the platform runs."""

from __future__ import annotations

from backend.billing.reactions import visit_invoice
from backend.notifications.reactions import appointment_reminder, payment_receipt
from backend.reactions.framework import Reaction

ALL: tuple[Reaction, ...] = (appointment_reminder, visit_invoice, payment_receipt)
