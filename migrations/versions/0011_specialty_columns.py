"""Specialty plugins: the plugin values, events and calculations of visits and admissions, the
calculations of patients, and the rm_checklists read model (plugin workflows).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""

from backend.eventstore.migrate import execute_script, read_model_security

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

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
"""


def upgrade() -> None:
    execute_script(
        f"ALTER TABLE rm_visits {COLUMNS};\nALTER TABLE rm_admissions {COLUMNS};\n"
        "ALTER TABLE rm_patients ADD COLUMN calculations jsonb NOT NULL DEFAULT '{}';\n"
        f"{CHECKLISTS}"
    )
    execute_script(read_model_security(TABLE))


def downgrade() -> None:
    execute_script(
        f"DROP TABLE {TABLE};\nALTER TABLE rm_patients DROP COLUMN calculations;\n"
        f"ALTER TABLE rm_visits {DROP_COLUMNS};\nALTER TABLE rm_admissions {DROP_COLUMNS};"
    )
