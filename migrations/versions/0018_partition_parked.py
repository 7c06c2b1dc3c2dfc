"""A Kafka-fed projection parks on the partition it failed on, not on the others.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30
"""

from backend.eventstore.migrate import execute_script

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

UPGRADE = """
-- Set on the partition where a member's handler failed: that row stops there until resumed (or
-- rebuilt). The member's other partitions carry on, attached or catching up alone. See
-- projections/tracking.py.
ALTER TABLE projection_partitions ADD COLUMN parked boolean NOT NULL DEFAULT false;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script("ALTER TABLE projection_partitions DROP COLUMN parked;")
