"""Clinical safety: the appointments read model shows the visit opened from an appointment.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from backend.eventstore.migrate import execute_script

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("ALTER TABLE rm_appointments ADD COLUMN visit_id uuid;")


def downgrade() -> None:
    execute_script("ALTER TABLE rm_appointments DROP COLUMN visit_id;")
