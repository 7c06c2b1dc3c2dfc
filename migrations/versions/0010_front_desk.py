"""The front desk's day: find a visit by its appointment and an invoice by its visit.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from backend.eventstore.migrate import execute_script

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE INDEX rm_visits_by_appointment ON rm_visits (tenant_id, appointment_id)
  WHERE appointment_id IS NOT NULL;
CREATE INDEX rm_invoices_by_visit ON rm_invoices (tenant_id, visit_id) WHERE visit_id IS NOT NULL;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script("DROP INDEX IF EXISTS rm_invoices_by_visit, rm_visits_by_appointment;")
