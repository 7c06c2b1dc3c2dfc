"""Booking rules: the appointments read model shows why staff booked a start already past
(`back_charting_reason`, null for every appointment before: none could be back-charted).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-01
"""

from backend.eventstore.migrate import execute_script

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("ALTER TABLE rm_appointments ADD COLUMN back_charting_reason text;")


def downgrade() -> None:
    execute_script("ALTER TABLE rm_appointments DROP COLUMN back_charting_reason;")
