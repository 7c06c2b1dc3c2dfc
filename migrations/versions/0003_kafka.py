"""Kafka fan-out: the relay's checkpoint and each Kafka-fed projection's progress per partition.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from backend.eventstore.migrate import execute_script

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = """
-- How far the relay has published the global order (tx_id, position) to Kafka.
CREATE TABLE relay_checkpoints (
    name       text PRIMARY KEY,
    tx_id      xid8   NOT NULL DEFAULT '0',
    position   bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE ON relay_checkpoints TO caretrail_relay;

-- A Kafka-fed projection's progress per partition: the last offset applied and the event it
-- carried. Written in the same transaction as the read-model rows, so it is the source of truth
-- for where to resume (Kafka's own committed offsets are only a hint).
CREATE TABLE projection_partitions (
    name         text   NOT NULL,
    partition    int    NOT NULL,
    kafka_offset bigint NOT NULL,
    tx_id        xid8   NOT NULL,
    position     bigint NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, partition)
);
GRANT SELECT, INSERT, UPDATE ON projection_partitions TO caretrail_projector;
GRANT SELECT ON projection_partitions TO caretrail_app;

-- The partition a stream's events go to: the low 32 bits of the stream id modulo the partition
-- count (projections/kafka_codec.py computes the same in Python for the relay).
CREATE FUNCTION stream_partition(p_stream_id uuid, p_partitions int) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ((('x' || right(replace(p_stream_id::text, '-', ''), 8))::bit(32)::bigint)
          % p_partitions)::int
$$;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(
        "DROP FUNCTION stream_partition; DROP TABLE projection_partitions, relay_checkpoints;"
    )
