"""Days in the tenant's time zone: `rm_appointments.day` (the UTC day of the start) goes; reads
cut the tenant's day from `start_at` (backend/tenancy/zone.py), which an index on the start
serves. Walk-in visits (no appointment) are listed on the front desk's day by `opened_at`.
The downgrade fills the old UTC day back in every tenant's rows (row security is lifted for its
one UPDATE: the owner is held to it like everyone).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-01
"""

from backend.eventstore.migrate import execute_script

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

UPGRADE = """
DROP INDEX rm_appointments_by_day;
ALTER TABLE rm_appointments DROP COLUMN day;
CREATE INDEX rm_appointments_by_start ON rm_appointments (tenant_id, start_at);
CREATE INDEX rm_visits_walk_ins ON rm_visits (tenant_id, opened_at)
    WHERE appointment_id IS NULL;
"""

DOWNGRADE = """
DROP INDEX rm_visits_walk_ins;
DROP INDEX rm_appointments_by_start;
ALTER TABLE rm_appointments ADD COLUMN day date;
ALTER TABLE rm_appointments NO FORCE ROW LEVEL SECURITY;
UPDATE rm_appointments SET day = (start_at AT TIME ZONE 'UTC')::date;
ALTER TABLE rm_appointments FORCE ROW LEVEL SECURITY;
ALTER TABLE rm_appointments ALTER COLUMN day SET NOT NULL;
CREATE INDEX rm_appointments_by_day ON rm_appointments (tenant_id, day, start_at);
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
