"""Specialty plugins: the plugin values, events and calculations of visits and admissions.

Revision ID: 0011
Revises: 0009
Create Date: 2026-11-23
"""

from backend.eventstore.migrate import execute_script

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

COLUMNS = """
    ADD COLUMN specialty_data   jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN specialty_events jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN calculations     jsonb NOT NULL DEFAULT '{}'
"""


def upgrade() -> None:
    execute_script(f"ALTER TABLE rm_visits {COLUMNS};\nALTER TABLE rm_admissions {COLUMNS};")


def downgrade() -> None:
    drop = "DROP COLUMN specialty_data, DROP COLUMN specialty_events, DROP COLUMN calculations"
    execute_script(f"ALTER TABLE rm_visits {drop};\nALTER TABLE rm_admissions {drop};")
