"""Scheduling's timers: `rm_slot_holds` (each hold on a practitioner's time, the state of its
stream; the timers find the holds due to expire by `expires_at`) and `rm_no_show_rules` (each
tenant's `no_show_after_min` policy, which the timers join with rm_appointments to find the
no-shows due). An index on rm_appointments by start for the appointments still awaited.

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-03
"""

from backend.eventstore.migrate import execute_script, read_model_security

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE rm_slot_holds (
    tenant_id        uuid NOT NULL,
    hold_id          uuid NOT NULL,
    practitioner_id  uuid NOT NULL,
    patient_id       uuid,
    start_at         timestamptz NOT NULL,
    end_at           timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    status           text NOT NULL,
    appointment_id   uuid,
    version          bigint NOT NULL,
    PRIMARY KEY (tenant_id, hold_id)
);
CREATE INDEX rm_slot_holds_due ON rm_slot_holds (expires_at) WHERE status = 'held';
CREATE INDEX rm_slot_holds_by_practitioner
    ON rm_slot_holds (tenant_id, practitioner_id, start_at) WHERE status = 'held';

CREATE TABLE rm_no_show_rules (
    tenant_id  uuid PRIMARY KEY,
    grace_min  int
);

CREATE INDEX rm_appointments_awaited ON rm_appointments (start_at)
    WHERE status IN ('requested', 'confirmed');
"""


def upgrade() -> None:
    execute_script(UPGRADE)
    execute_script(read_model_security("rm_slot_holds", "rm_no_show_rules"))


def downgrade() -> None:
    execute_script(
        "DROP INDEX rm_appointments_awaited; DROP TABLE rm_slot_holds; DROP TABLE rm_no_show_rules;"
        " DELETE FROM projection_checkpoints WHERE name IN ('slot_holds', 'no_show_rules');"
    )
