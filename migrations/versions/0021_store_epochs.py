"""Store epochs: the global order survives a restore onto another cluster.

The global order is `(tx_id, position)`, and `tx_id` was the writing transaction's id. A new
cluster numbers its transactions from its own counter, so after a restore onto one, new events
took ids below the restored checkpoints and were never projected. Now `tx_id` is the transaction
id plus the current epoch's `xid_offset` (a constant written into the column's default when the
epoch begins), and the readers' horizon is shifted alike. An epoch
belongs to one cluster (`pg_control_system().system_identifier`) and one database (its oid, new
after every restore). On another cluster or database (a restore) the next epoch begins
(backend/eventstore/epochs.py: at every migrate, before anything writes) with an offset that puts
every new transaction above every place already stored. Its Kafka topic is its own: the relay
publishes the store again from the start into it, and Kafka-fed projections read it from its
start, skipping by place what they already have; nothing published by another database reaches
them.

The cluster's roles, their settings and memberships are applied again from one script
(backend/eventstore/roles.py), which `caretrail roles` also runs on a cluster a dump is restored
onto.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30
"""

from backend.eventstore.migrate import execute_script
from backend.eventstore.roles import roles_script

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE store_epochs (
    epoch             int         PRIMARY KEY,
    system_identifier bigint      NOT NULL,
    database_oid      oid         NOT NULL,
    xid_offset        bigint      NOT NULL CHECK (xid_offset >= 0),
    highest_tx_id     bigint      NOT NULL,  -- the highest place stored when it began
    kafka_topic       text        NOT NULL UNIQUE,
    began_at          timestamptz NOT NULL DEFAULT now(),
    reason            text        NOT NULL
);
GRANT SELECT ON store_epochs TO caretrail_app, caretrail_relay, caretrail_projector;

CREATE FUNCTION xid_offset() RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce((SELECT xid_offset FROM store_epochs ORDER BY epoch DESC LIMIT 1), 0)
$$;


-- Whether the current epoch is this cluster's and this database's (false before the first).
CREATE FUNCTION store_epoch_settled() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT e.system_identifier = (SELECT system_identifier FROM pg_control_system())
            AND e.database_oid = (SELECT oid FROM pg_database WHERE datname = current_database())
       FROM store_epochs e ORDER BY e.epoch DESC LIMIT 1),
    false)
$$;
GRANT EXECUTE ON FUNCTION store_epoch_settled() TO caretrail_relay, caretrail_projector;

-- Begin the next epoch. `p_highest` is the highest tx_id among the events, read by the caller
-- through a role that sees every tenant's (the owner sees none: RLS is forced on it too).
CREATE FUNCTION begin_store_epoch(p_highest bigint, p_reason text) RETURNS SETOF store_epochs
LANGUAGE plpgsql AS $$
DECLARE
  raw bigint := pg_current_xact_id()::text::bigint;
  highest bigint;
  previous store_epochs;
  restored boolean;
  began store_epochs;
BEGIN
  LOCK TABLE store_epochs IN SHARE ROW EXCLUSIVE MODE;
  SELECT * INTO previous FROM store_epochs ORDER BY epoch DESC LIMIT 1;
  highest := greatest(
    coalesce(p_highest, 0),
    (SELECT max(tx_id::text::bigint) FROM projection_checkpoints),
    (SELECT max(tx_id::text::bigint) FROM projection_partitions),
    (SELECT max(tx_id::text::bigint) FROM relay_checkpoints),
    previous.highest_tx_id);
  -- The first epoch of a database upgraded in place keeps the topic it had; any other (a
  -- restore, or a first epoch whose places are above this cluster's transaction ids) gets a
  -- topic of its own: the relay publishes everything again, projections read it from its start.
  restored := previous.epoch IS NOT NULL OR highest >= raw;
  IF restored THEN
    UPDATE relay_checkpoints SET tx_id = '0', position = 0, updated_at = now();
    UPDATE projection_partitions SET kafka_offset = -1, updated_at = now();
  END IF;
  INSERT INTO store_epochs (epoch, system_identifier, database_oid, xid_offset, highest_tx_id,
                            kafka_topic, reason)
  VALUES (coalesce(previous.epoch, 0) + 1,
          (SELECT system_identifier FROM pg_control_system()),
          (SELECT oid FROM pg_database WHERE datname = current_database()),
          greatest(coalesce(previous.xid_offset, 0), highest + 1 - raw, 0),
          highest,
          CASE WHEN restored
               THEN format('caretrail.events.%s.%s', coalesce(previous.epoch, 0) + 1,
                           left(replace(gen_random_uuid()::text, '-', ''), 12))
               ELSE 'caretrail.events' END,
          p_reason)
  RETURNING * INTO began;
  -- Every event's tx_id is its transaction id plus the offset: a constant in the column's
  -- default, so an append evaluates no function and reads no table for it.
  EXECUTE format('ALTER TABLE events ALTER COLUMN tx_id SET DEFAULT'
                 ' (pg_current_xact_id()::text::bigint + %s)::text::xid8', began.xid_offset);
  RETURN NEXT began;
END $$;

-- The readers' horizon (migration 0002), in the shifted numbering of tx_id.
CREATE OR REPLACE FUNCTION event_horizon() RETURNS xid8 LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  snap pg_snapshot;
  xmax64 bigint;
  oldest_writer bigint;
  shift bigint := xid_offset();
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'event_horizon() needs READ COMMITTED: it relies on a fresh snapshot'
      ' per statement';
  END IF;
  PERFORM pg_stat_clear_snapshot();  -- activity is otherwise cached for the whole transaction
  snap := pg_current_snapshot();
  xmax64 := pg_snapshot_xmax(snap)::text::bigint;
  IF NOT pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') THEN
    RETURN (pg_snapshot_xmin(snap)::text::bigint + shift)::text::xid8;
  END IF;
  -- A running xid is within 2^31 of xmax (wraparound protection guarantees it): widen it by
  -- its signed 32-bit distance from xmax's low half.
  SELECT min(xmax64 + ((a.backend_xid::text::bigint - (xmax64 & 4294967295) + 6442450944)
                       % 4294967296) - 2147483648)
    INTO oldest_writer
    FROM pg_stat_activity a
   WHERE a.backend_xid IS NOT NULL
     AND a.datname = current_database()
     AND has_any_column_privilege(a.usesysid, 'public.events', 'INSERT');
  RETURN (least(xmax64, oldest_writer) + shift)::text::xid8;
END $$;
"""

DOWNGRADE = """
CREATE OR REPLACE FUNCTION event_horizon() RETURNS xid8 LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  snap pg_snapshot;
  xmax64 bigint;
  oldest_writer bigint;
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'event_horizon() needs READ COMMITTED: it relies on a fresh snapshot'
      ' per statement';
  END IF;
  PERFORM pg_stat_clear_snapshot();
  snap := pg_current_snapshot();
  xmax64 := pg_snapshot_xmax(snap)::text::bigint;
  IF NOT pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') THEN
    RETURN pg_snapshot_xmin(snap);
  END IF;
  SELECT min(xmax64 + ((a.backend_xid::text::bigint - (xmax64 & 4294967295) + 6442450944)
                       % 4294967296) - 2147483648)
    INTO oldest_writer
    FROM pg_stat_activity a
   WHERE a.backend_xid IS NOT NULL
     AND a.datname = current_database()
     AND has_any_column_privilege(a.usesysid, 'public.events', 'INSERT');
  RETURN least(xmax64, oldest_writer)::text::xid8;
END $$;
ALTER TABLE events ALTER COLUMN tx_id SET DEFAULT pg_current_xact_id();
DROP FUNCTION begin_store_epoch, store_epoch_settled, xid_offset;
DROP TABLE store_epochs;
"""


def upgrade() -> None:
    execute_script(roles_script())
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
