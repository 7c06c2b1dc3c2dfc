"""Quarantine: an event a projection cannot apply, skipped for that projection alone, on an
operator's word (who and why kept for good): `caretrail projections quarantine`.

Rows are only ever added (no UPDATE or DELETE for the runtime roles): a quarantine is part of
the read model's history, shown in status for as long as the projection exists.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30
"""

from backend.eventstore.migrate import execute_script

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE quarantined_events (
    projection      text NOT NULL,
    position        bigint NOT NULL,
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    reason          text NOT NULL CHECK (btrim(reason) <> ''),
    quarantined_by  text NOT NULL CHECK (btrim(quarantined_by) <> ''),
    quarantined_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, position)
);
GRANT SELECT, INSERT ON quarantined_events TO caretrail_projector;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script("DROP TABLE quarantined_events;")
