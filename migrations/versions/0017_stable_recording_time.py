"""Stable transaction time: answers as of a past moment can no longer change.

An event's `recorded_at` was its statement's start, so a writer could insert at 10:10:06 and
commit seconds later, and a read as of 10:10:08 answered differently before and after that
commit. Two pieces make the answer final (docs/temporal.md):

- `recorded_at` is now taken when the transaction inserts its first event, after the transaction
  holds its id, and is the same for every event of the transaction. So whoever records an event
  at or before T was, at T already, a running transaction with an id.
- `recording_writers(T)` lists the transactions that may still commit an event recorded at or
  before T: those of a role that may insert events, in this database, holding an id, begun by T
  (T is capped at the present). A reader waits until all of them have ended, then reads.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-24
"""

from backend.eventstore.migrate import execute_script

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

UPGRADE = """
-- The transaction's recording time, kept (in microseconds since the epoch, exact) in a
-- transaction-local setting so that all its events share it: a transaction is one moment in
-- transaction time, and an as_of cut never splits a command.
CREATE FUNCTION stamp_recorded_at() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  micros text := current_setting('caretrail.recorded_at_us', true);
BEGIN
  IF micros IS NULL OR micros = '' THEN
    PERFORM pg_current_xact_id();  -- the id is visible to readers before the time is taken
    micros := (extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text;
    PERFORM set_config('caretrail.recorded_at_us', micros, true);
  END IF;
  NEW.recorded_at := to_timestamp(0) + micros::bigint * interval '1 microsecond';
  RETURN NEW;
END $$;
-- Row triggers of one event fire in name order: this one must run before events_chain, whose
-- hash covers recorded_at.
CREATE TRIGGER events_0_recorded_at BEFORE INSERT ON events
  FOR EACH ROW EXECUTE FUNCTION stamp_recorded_at();

-- `cut` is p_at, or the present when p_at is later (or NULL), taken before the sessions are read:
-- a transaction recording at or before `cut` held its id by then, so it is listed unless it had
-- already ended. Its transaction began by `cut` too; where the caller may not see when a
-- session's transaction began (no pg_read_all_stats), every writer holding an id is listed.
CREATE FUNCTION recording_writers(p_at timestamptz, OUT cut timestamptz, OUT pids int[],
                                  OUT xids text[])
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  cut := least(p_at, clock_timestamp());
  PERFORM pg_stat_clear_snapshot();  -- activity is otherwise cached for the whole transaction
  SELECT coalesce(array_agg(a.pid ORDER BY a.pid), '{}'),
         coalesce(array_agg(a.backend_xid::text ORDER BY a.pid), '{}')
    INTO pids, xids
    FROM pg_stat_activity a
   WHERE a.backend_xid IS NOT NULL
     AND a.datname = current_database()
     AND a.pid <> pg_backend_pid()
     AND has_any_column_privilege(a.usesysid, 'public.events', 'INSERT')
     AND (a.xact_start IS NULL OR a.xact_start <= cut);
END $$;
GRANT EXECUTE ON FUNCTION recording_writers(timestamptz) TO caretrail_projector;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(
        "DROP FUNCTION recording_writers; DROP TRIGGER events_0_recorded_at ON events;"
        " DROP FUNCTION stamp_recorded_at;"
    )
