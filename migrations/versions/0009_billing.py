"""Billing read models: invoices with their balance, and the double-entry ledger.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from backend.eventstore.migrate import execute_script, read_model_security

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

READ_MODELS = ("rm_invoices", "rm_ledger_entries")

# Money columns are numeric without a fixed precision: amounts arrive with two places and keep
# them; sums of many of them must not overflow.
UPGRADE = """
CREATE TABLE rm_invoices (
    tenant_id        uuid    NOT NULL,
    invoice_id       uuid    NOT NULL,
    patient_id       uuid    NOT NULL,
    visit_id         uuid,
    currency         text    NOT NULL,
    status           text    NOT NULL,
    issued           boolean NOT NULL,
    lines            jsonb   NOT NULL DEFAULT '[]',
    discount_percent numeric NOT NULL,
    discount_reason  text,
    subtotal         numeric NOT NULL,
    discount         numeric NOT NULL,
    total            numeric NOT NULL,
    paid             numeric NOT NULL,
    refunded         numeric NOT NULL,
    balance          numeric NOT NULL,
    payment_ids      jsonb   NOT NULL DEFAULT '[]',
    version          bigint  NOT NULL,
    PRIMARY KEY (tenant_id, invoice_id)
);
CREATE INDEX rm_invoices_by_patient ON rm_invoices (tenant_id, patient_id, invoice_id);

CREATE TABLE rm_ledger_entries (
    tenant_id   uuid    NOT NULL,
    entry_id    uuid    NOT NULL,
    journal_id  uuid    NOT NULL,
    position    bigint  NOT NULL,
    event_type  text    NOT NULL,
    invoice_id  uuid    NOT NULL,
    account     text    NOT NULL,
    debit       numeric NOT NULL CHECK (debit >= 0),
    credit      numeric NOT NULL CHECK (credit >= 0),
    currency    text    NOT NULL,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, entry_id)
);
CREATE INDEX rm_ledger_entries_by_invoice ON rm_ledger_entries (tenant_id, invoice_id, position);
CREATE INDEX rm_ledger_entries_by_position ON rm_ledger_entries (tenant_id, position);
"""

RLS = read_model_security(*READ_MODELS)


def upgrade() -> None:
    execute_script(UPGRADE)
    execute_script(RLS)


def downgrade() -> None:
    execute_script("DROP TABLE rm_ledger_entries, rm_invoices;")
