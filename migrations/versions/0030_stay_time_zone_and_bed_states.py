"""An admission's length of stay counts midnights in the tenant's time zone at the discharge
(`time_zone`, a column of the admission's state like the others). Discharges before it counted
in UTC, as their events now read (PatientDischarged v1 upcasts to "UTC").

A ward's `status` (open, closed) and `bed_states` (the beds out of service: cleaning,
blocked), columns of the ward's state. No ward was closed or had a bed out of service before:
the defaults are right for every existing row.

Revision ID: 0030
Revises: 0029
Create Date: 2026-11-30
"""

from backend.eventstore.migrate import execute_script

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE rm_admissions ADD COLUMN time_zone text;
UPDATE rm_admissions SET time_zone = 'UTC' WHERE discharged_at IS NOT NULL;
ALTER TABLE rm_wards
  ADD COLUMN status text NOT NULL DEFAULT 'open',
  ADD COLUMN bed_states jsonb NOT NULL DEFAULT '{}';
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(
        "ALTER TABLE rm_admissions DROP COLUMN time_zone;"
        " ALTER TABLE rm_wards DROP COLUMN status, DROP COLUMN bed_states;"
    )
