"""Every context's parts that processes are built from: its read models, its reactions and its
HTTP routes. With bootstrap, processes and cli, this is the composition root: the only code that
knows every context (pyproject.toml's import-linter contracts keep it that way)."""

from __future__ import annotations

from fastapi import APIRouter

from backend.admissions.projections import ADMISSIONS, WARDS
from backend.admissions.queries import router as admission_reads
from backend.admissions.reactions import death_at_discharge
from backend.admissions.router import router as admissions
from backend.api.versions import VersionChange
from backend.audit.router import router as audit
from backend.audit.temporal import router as temporal
from backend.billing.projections import INVOICES, LEDGER, PAYMENTS
from backend.billing.reactions import visit_invoice
from backend.billing.reads import router as billing_reads
from backend.billing.router import router as billing
from backend.billing.webhook import router as payment_webhooks
from backend.feed.router import router as event_feed
from backend.frontdesk.queue_router import router as live_queue
from backend.frontdesk.router import router as front_desk
from backend.notifications.projections import NOTIFICATIONS
from backend.notifications.reactions import (
    appointment_reminder,
    payment_receipt,
    waitlist_offer_message,
)
from backend.notifications.router import router as notifications
from backend.operations.router import router as operations
from backend.patients.projections import PATIENTS
from backend.patients.router import router as patients
from backend.patients.versions import NAME_AS_OBJECT
from backend.reactions.framework import Reaction
from backend.scheduling.hours_router import router as scheduling_hours
from backend.scheduling.projections import APPOINTMENTS, DAILY_ACTIVITY, HOLDS, NO_SHOW_RULES
from backend.scheduling.qr_checkin import router as qr_check_in
from backend.scheduling.router import practitioner_days
from backend.scheduling.router import router as scheduling
from backend.scheduling.waitlist_projection import WAITLIST_ENTRIES
from backend.scheduling.waitlist_reactions import waitlist_offers
from backend.scheduling.waitlist_router import router as waitlist
from backend.specialties.projections import CHECKLISTS, WORKLIST
from backend.specialties.router import router as specialties
from backend.tenancy.dev_sign_in import router as dev_sign_in
from backend.tenancy.projections import PRACTITIONERS
from backend.tenancy.router import router as tenancy
from backend.visits.allergies import router as allergies
from backend.visits.projections import VISITS
from backend.visits.router import router as visits
from backend.visits.worklists import router as visit_worklists
from backend.webhooks.router import router as webhooks
from projections.framework import TableProjection

READ_MODELS: tuple[TableProjection, ...] = (
    PATIENTS,
    PRACTITIONERS,
    APPOINTMENTS,
    DAILY_ACTIVITY,
    HOLDS,
    NO_SHOW_RULES,
    VISITS,
    ADMISSIONS,
    WARDS,
    NOTIFICATIONS,
    INVOICES,
    LEDGER,
    CHECKLISTS,
    PAYMENTS,
    WAITLIST_ENTRIES,
    WORKLIST,
)
READ_MODELS_BY_NAME = {p.name: p for p in READ_MODELS}

REACTIONS: tuple[Reaction, ...] = (
    appointment_reminder,
    visit_invoice,
    payment_receipt,
    death_at_discharge,
    waitlist_offers,
    waitlist_offer_message,
)

ROUTERS: tuple[APIRouter, ...] = (
    operations,
    tenancy,
    patients,
    scheduling_hours,
    scheduling,
    practitioner_days,
    waitlist,
    qr_check_in,
    visits,
    visit_worklists,
    allergies,
    admissions,
    admission_reads,
    notifications,
    billing,
    billing_reads,
    payment_webhooks,
    front_desk,
    live_queue,
    specialties,
    temporal,
    audit,
    webhooks,
    event_feed,
)

VERSION_CHANGES: tuple[VersionChange, ...] = (NAME_AS_OBJECT,)
"""What each dated version changed, undone at the edge for callers of older ones
(backend/api/versioning.py; the change log is docs/partners.md)."""

DEV_SIGN_IN = dev_sign_in
"""Mounted only when CARETRAIL_ENV=dev (backend/bootstrap.py)."""


def projector_pool_size() -> int:
    """Connections for a process running every projection: a few for the group's batch and
    its laggards, for reads, status and the reactions beside them."""
    return len(READ_MODELS) + 4
