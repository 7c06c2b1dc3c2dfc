"""One projection mode per database: in-process or fed from Kafka, recorded at first start.

A database whose projections two modes feed applies every event twice (counting read models
double). The first process that runs or feeds projections records its mode here; a process
started in the other mode refuses to start (projections/mode.py).

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30
"""

from backend.eventstore.migrate import execute_script

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE projection_mode (
    only_row     boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    mode         text NOT NULL CHECK (mode IN ('in-process', 'kafka')),
    recorded_by  text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT ON projection_mode TO caretrail_projector, caretrail_relay;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script("DROP TABLE projection_mode;")
