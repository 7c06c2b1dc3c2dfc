"""Specialty plugins: the plugin values, events and calculations of visits and admissions, the
calculations of patients, and the rm_checklists read model (plugin workflows).

Revision ID: 0011
Revises: 0009
Create Date: 2026-11-23
"""

from backend.eventstore.migrate import execute_script

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

CURRENT_TENANT = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"
TABLE = "rm_checklists"
COLUMNS = """
    ADD COLUMN specialty_data   jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN specialty_events jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN calculations     jsonb NOT NULL DEFAULT '{}'
"""
DROP_COLUMNS = "DROP COLUMN specialty_data, DROP COLUMN specialty_events, DROP COLUMN calculations"

CHECKLISTS = f"""
CREATE TABLE {TABLE} (
    tenant_id      uuid NOT NULL,
    checklist_id   uuid NOT NULL,
    plugin         text NOT NULL,
    plugin_version text NOT NULL,
    workflow       text NOT NULL,
    name           text NOT NULL,
    patient_id     uuid NOT NULL,
    subject_type   text NOT NULL,
    subject_id     uuid NOT NULL,
    status         text NOT NULL,
    steps          jsonb NOT NULL DEFAULT '[]',
    version        bigint NOT NULL,
    PRIMARY KEY (tenant_id, checklist_id)
);
CREATE INDEX rm_checklists_by_patient ON {TABLE} (tenant_id, patient_id, status);
CREATE INDEX rm_checklists_by_subject ON {TABLE} (tenant_id, subject_id);

ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {TABLE}
  USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT});
CREATE POLICY projector_writes_all ON {TABLE} TO caretrail_projector USING (true) WITH CHECK (true);
GRANT SELECT ON {TABLE} TO caretrail_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON {TABLE} TO caretrail_projector;
"""


def upgrade() -> None:
    execute_script(
        f"ALTER TABLE rm_visits {COLUMNS};\nALTER TABLE rm_admissions {COLUMNS};\n"
        "ALTER TABLE rm_patients ADD COLUMN calculations jsonb NOT NULL DEFAULT '{}';\n"
        f"{CHECKLISTS}"
    )


def downgrade() -> None:
    execute_script(
        f"DROP TABLE {TABLE};\nALTER TABLE rm_patients DROP COLUMN calculations;\n"
        f"ALTER TABLE rm_visits {DROP_COLUMNS};\nALTER TABLE rm_admissions {DROP_COLUMNS};"
    )
