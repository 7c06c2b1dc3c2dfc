"""Billing at the desk: an invoice's credit moved to or from the patient's other invoices
(`credit_in`, `credit_out`) and the credit note that voided it (`credit_note`), columns of the
invoice's state like the others. No invoice had either before: the defaults are right for every
existing row.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-30
"""

from backend.eventstore.migrate import execute_script

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE rm_invoices
  ADD COLUMN credit_in numeric NOT NULL DEFAULT 0,
  ADD COLUMN credit_out numeric NOT NULL DEFAULT 0,
  ADD COLUMN credit_note jsonb;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(
        "ALTER TABLE rm_invoices DROP COLUMN credit_in, DROP COLUMN credit_out,"
        " DROP COLUMN credit_note;"
    )
