"""Notifications: the rm_notifications read model (reactions keep their checkpoints in
projection_checkpoints, named "reaction:<name>").

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from backend.eventstore.migrate import execute_script, read_model_security

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


UPGRADE = """
CREATE TABLE rm_notifications (
    tenant_id           uuid NOT NULL,
    notification_id     uuid NOT NULL,
    patient_id          uuid NOT NULL,
    channel             text,
    address             text,
    template            text NOT NULL,
    body                text NOT NULL,
    send_after          timestamptz NOT NULL,
    source_event_id     uuid NOT NULL,
    status              text NOT NULL,
    attempts            int  NOT NULL,
    lease_until         timestamptz,
    next_attempt_at     timestamptz,
    last_error          text,
    provider_message_id text,
    escalation_reason   text,
    due_at              timestamptz,
    version             bigint NOT NULL,
    PRIMARY KEY (tenant_id, notification_id)
);
-- The dispatcher's question, across tenants: what is due now?
CREATE INDEX rm_notifications_due ON rm_notifications (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX rm_notifications_by_patient ON rm_notifications (tenant_id, patient_id);
"""

RLS = read_model_security("rm_notifications")


def upgrade() -> None:
    execute_script(UPGRADE)
    execute_script(RLS)


def downgrade() -> None:
    execute_script(
        "DROP TABLE rm_notifications; DELETE FROM projection_checkpoints"
        " WHERE name = 'notifications' OR name LIKE 'reaction:%';"
    )
