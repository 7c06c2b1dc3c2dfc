"""Runner liveness: each runner (an in-process catch-up group, the relay, a Kafka projector)
records that it is alive at most once a second, whether or not anything moved, so status and
readiness can tell an idle runner from a dead one (projections/tracking.py, Heartbeat).

Revision ID: 0024
Revises: 0022
Create Date: 2026-11-30
"""

from backend.eventstore.migrate import execute_script

revision = "0024"
down_revision = "0022"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE runner_liveness (
    kind     text NOT NULL CHECK (kind IN ('in-process', 'relay', 'projector')),
    name     text NOT NULL,
    process  text NOT NULL,
    seen_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, name)
);
GRANT SELECT, INSERT, UPDATE ON runner_liveness TO caretrail_projector, caretrail_relay;
-- Status (the API's, the CLI's) reports the relay's place too, through the projector's role.
GRANT SELECT ON relay_checkpoints TO caretrail_projector;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(
        "REVOKE SELECT ON relay_checkpoints FROM caretrail_projector; DROP TABLE runner_liveness;"
    )
