"""Patients merged: `merged_into` (a duplicate's kept patient) and `merged_from` (the duplicates
a patient kept), columns of the patient's state like the others. No patient was merged before:
the defaults are right for every existing row.

Revision ID: 0036
Revises: 0035
Create Date: 2026-11-30
"""

from backend.eventstore.migrate import execute_script

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        "ALTER TABLE rm_patients ADD COLUMN merged_into uuid,"
        " ADD COLUMN merged_from jsonb NOT NULL DEFAULT '[]';"
    )


def downgrade() -> None:
    execute_script("ALTER TABLE rm_patients DROP COLUMN merged_into, DROP COLUMN merged_from;")
