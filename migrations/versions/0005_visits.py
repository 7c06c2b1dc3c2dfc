"""Visits: the rm_visits read model.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from backend.eventstore.migrate import execute_script

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CURRENT_TENANT = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"
TABLE = "rm_visits"

UPGRADE = f"""
CREATE TABLE {TABLE} (
    tenant_id       uuid NOT NULL,
    visit_id        uuid NOT NULL,
    patient_id      uuid NOT NULL,
    practitioner_id uuid NOT NULL,
    appointment_id  uuid,
    reason          text,
    status          text NOT NULL,
    opened_at       timestamptz NOT NULL,
    note            jsonb,
    note_revision   int   NOT NULL DEFAULT 0,
    services        jsonb NOT NULL DEFAULT '[]',
    vitals          jsonb NOT NULL DEFAULT '[]',
    prescriptions   jsonb NOT NULL DEFAULT '[]',
    lab_orders      jsonb NOT NULL DEFAULT '[]',
    addenda         jsonb NOT NULL DEFAULT '[]',
    version         bigint NOT NULL,
    PRIMARY KEY (tenant_id, visit_id)
);
CREATE INDEX rm_visits_by_patient ON {TABLE} (tenant_id, patient_id, opened_at);

ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {TABLE}
  USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT});
CREATE POLICY projector_writes_all ON {TABLE} TO caretrail_projector USING (true) WITH CHECK (true);
GRANT SELECT ON {TABLE} TO caretrail_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON {TABLE} TO caretrail_projector;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(f"DROP TABLE {TABLE};")
