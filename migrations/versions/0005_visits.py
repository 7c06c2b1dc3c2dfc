"""Visits: the rm_visits read model.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from backend.eventstore.migrate import execute_script, read_model_security

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

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
"""


def upgrade() -> None:
    execute_script(UPGRADE)
    execute_script(read_model_security(TABLE))


def downgrade() -> None:
    execute_script(f"DROP TABLE {TABLE};")
