"""rm_worklist: the specialty plugins' recalls per patient (backend/specialties/worklist.py).

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-05
"""

from backend.eventstore.migrate import execute_script, read_model_security

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None

TABLE = "rm_worklist"
WORKLIST = f"""
CREATE TABLE {TABLE} (
    tenant_id   uuid NOT NULL,
    entry_id    uuid NOT NULL,  -- derived from patient_id, plugin and recall
    patient_id  uuid NOT NULL,
    plugin      text NOT NULL,
    recall      text NOT NULL,
    name        text NOT NULL,
    message     text NOT NULL,
    facts       jsonb NOT NULL,
    due_at      timestamptz,
    PRIMARY KEY (tenant_id, entry_id)
);
CREATE INDEX rm_worklist_by_patient ON {TABLE} (tenant_id, patient_id);
CREATE INDEX rm_worklist_due ON {TABLE} (tenant_id, due_at, patient_id, plugin, recall)
    WHERE due_at IS NOT NULL;
"""


def upgrade() -> None:
    execute_script(WORKLIST)
    execute_script(read_model_security(TABLE))


def downgrade() -> None:
    execute_script(f"DROP TABLE {TABLE};")
