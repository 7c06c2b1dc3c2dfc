"""Projection groups: a projection attached to its group is moved by the group's checkpoint.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from backend.eventstore.migrate import execute_script

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UPGRADE = """
-- The group row (named 'group:<name>') whose checkpoint speaks for this projection; NULL while
-- it follows the store alone (new, parked, rebuilt, catching up). See projections/tracking.py.
ALTER TABLE projection_checkpoints ADD COLUMN follows text;

-- Every projection's effective checkpoint: its own, or its group's when that is later.
CREATE VIEW projection_progress AS
SELECT c.name, c.state, c.follows, c.last_error, c.error_position,
       CASE WHEN g.name IS NOT NULL AND (g.tx_id, g.position) > (c.tx_id, c.position)
            THEN g.tx_id ELSE c.tx_id END AS tx_id,
       CASE WHEN g.name IS NOT NULL AND (g.tx_id, g.position) > (c.tx_id, c.position)
            THEN g.position ELSE c.position END AS position,
       greatest(c.updated_at, g.updated_at) AS updated_at
  FROM projection_checkpoints c
  LEFT JOIN projection_checkpoints g ON g.name = c.follows;
GRANT SELECT ON projection_progress TO caretrail_app, caretrail_projector;
GRANT DELETE ON projection_checkpoints TO caretrail_projector;

-- The same for Kafka-fed projections, per partition: the group row ('group:<name>', one per
-- partition) speaks for the members attached to it on that partition.
ALTER TABLE projection_partitions ADD COLUMN follows text;
CREATE VIEW projection_partition_progress AS
SELECT p.name, p.partition, p.follows,
       CASE WHEN g.name IS NOT NULL AND (g.tx_id, g.position) > (p.tx_id, p.position)
            THEN g.tx_id ELSE p.tx_id END AS tx_id,
       CASE WHEN g.name IS NOT NULL AND (g.tx_id, g.position) > (p.tx_id, p.position)
            THEN g.position ELSE p.position END AS position,
       greatest(p.updated_at, g.updated_at) AS updated_at
  FROM projection_partitions p
  LEFT JOIN projection_partitions g ON g.name = p.follows AND g.partition = p.partition;
GRANT SELECT ON projection_partition_progress TO caretrail_app, caretrail_projector;

"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(
        "DROP VIEW projection_partition_progress, projection_progress;"
        " ALTER TABLE projection_partitions DROP COLUMN follows;"
        " ALTER TABLE projection_checkpoints DROP COLUMN follows;"
    )
