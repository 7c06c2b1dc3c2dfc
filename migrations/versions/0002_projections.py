"""Projections: the projector role, checkpoints, and the first read models.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from backend.eventstore.migrate import execute_script, read_model_security

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

READ_MODELS = ("rm_patients", "rm_practitioners", "rm_appointments", "rm_daily_activity")

UPGRADE = """
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'caretrail_projector') THEN
    CREATE ROLE caretrail_projector LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
END $$;
ALTER ROLE caretrail_projector SET idle_in_transaction_session_timeout = '5s';
ALTER ROLE caretrail_projector SET statement_timeout = '60s';

-- Where each projection is in the global order (tx_id, position), and whether it runs.
CREATE TABLE projection_checkpoints (
    name          text PRIMARY KEY,
    tx_id         xid8   NOT NULL DEFAULT '0',
    position      bigint NOT NULL DEFAULT 0,
    state         text   NOT NULL DEFAULT 'running'
                  CHECK (state IN ('running', 'parked')),
    last_error    text,
    error_position bigint,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rm_patients (
    tenant_id      uuid NOT NULL,
    patient_id     uuid NOT NULL,
    given_name     text NOT NULL,
    family_name    text NOT NULL,
    search_name    text NOT NULL,
    birth_date     date NOT NULL,
    sex            text NOT NULL,
    phone          text,
    phone_digits   text,
    email          text,
    specialty_data jsonb NOT NULL DEFAULT '{}',
    version        bigint NOT NULL,
    PRIMARY KEY (tenant_id, patient_id)
);

CREATE TABLE rm_practitioners (
    tenant_id       uuid NOT NULL,
    practitioner_id uuid NOT NULL,
    name            text NOT NULL,
    specialty       text,
    version         bigint NOT NULL,
    PRIMARY KEY (tenant_id, practitioner_id)
);

CREATE TABLE rm_appointments (
    tenant_id        uuid NOT NULL,
    appointment_id   uuid NOT NULL,
    patient_id       uuid NOT NULL,
    practitioner_id  uuid NOT NULL,
    start_at         timestamptz NOT NULL,
    end_at           timestamptz NOT NULL,
    day              date NOT NULL,
    reason           text,
    status           text NOT NULL,
    checked_in_at    timestamptz,
    checkin_override_reason text,
    cancel_reason    text,
    version          bigint NOT NULL,
    PRIMARY KEY (tenant_id, appointment_id)
);
CREATE INDEX rm_appointments_by_day ON rm_appointments (tenant_id, day, start_at);
CREATE INDEX rm_appointments_by_practitioner
    ON rm_appointments (tenant_id, practitioner_id, start_at);

-- Front-desk activity per UTC day (counts of what happened that day). Counters, not state: they
-- are right only if every event is applied exactly once.
CREATE TABLE rm_daily_activity (
    tenant_id  uuid NOT NULL,
    day        date NOT NULL,
    booked     int  NOT NULL DEFAULT 0,
    confirmed  int  NOT NULL DEFAULT 0,
    cancelled  int  NOT NULL DEFAULT 0,
    checked_in int  NOT NULL DEFAULT 0,
    completed  int  NOT NULL DEFAULT 0,
    no_show    int  NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day)
);

GRANT USAGE ON SCHEMA public TO caretrail_projector;
GRANT SELECT ON events TO caretrail_projector;
GRANT SELECT, INSERT, UPDATE ON projection_checkpoints TO caretrail_projector;
GRANT SELECT ON projection_checkpoints TO caretrail_app;
CREATE POLICY projector_reads_all ON events FOR SELECT TO caretrail_projector USING (true);
"""

RLS = read_model_security(*READ_MODELS)


# The global readers' horizon: the oldest transaction that may still commit events: that of any
# session in this database whose role may insert events (the runtime role, the owner,
# superusers). Any other long transaction (a report, a forgotten psql BEGIN under a read-only
# role, anything in another database of the cluster) cannot hold readers back. Seeing
# other sessions' transaction ids takes pg_read_all_stats; without it the horizon falls back to
# the cluster-wide xmin (always safe, but stalled by any long transaction).
#
# Order matters, and PL/pgSQL (volatile: a fresh snapshot per statement) enforces it:
#   1. take a snapshot: every transaction id below its xmax had been assigned;
#   2. read the runtime role's running transaction ids: those below xmax not listed had ended;
#   3. only then read the events, with a newer snapshot that sees every ended one committed.
HORIZON = """
DO $$
BEGIN
  GRANT pg_read_all_stats TO caretrail_relay, caretrail_projector;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'pg_read_all_stats not granted: readers use the cluster-wide xmin horizon';
END $$;

CREATE FUNCTION event_horizon() RETURNS xid8 LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  snap pg_snapshot;
  xmax64 bigint;
  oldest_writer bigint;
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'event_horizon() needs READ COMMITTED: it relies on a fresh snapshot'
      ' per statement';
  END IF;
  PERFORM pg_stat_clear_snapshot();  -- activity is otherwise cached for the whole transaction
  snap := pg_current_snapshot();
  xmax64 := pg_snapshot_xmax(snap)::text::bigint;
  IF NOT pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') THEN
    RETURN pg_snapshot_xmin(snap);
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
  RETURN least(xmax64, oldest_writer)::text::xid8;
END $$;

CREATE FUNCTION read_events_after(p_tx xid8, p_position bigint, p_limit int)
RETURNS SETOF events LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  horizon xid8 := event_horizon();
BEGIN
  RETURN QUERY SELECT * FROM events e
    WHERE (e.tx_id, e.position) > (p_tx, p_position) AND e.tx_id < horizon
    ORDER BY e.tx_id, e.position LIMIT p_limit;
END $$;
GRANT EXECUTE ON FUNCTION event_horizon(), read_events_after(xid8, bigint, int)
  TO caretrail_relay, caretrail_projector;
"""


def upgrade() -> None:
    execute_script(UPGRADE)
    execute_script(RLS)
    execute_script(HORIZON)


def downgrade() -> None:
    execute_script(
        "DROP FUNCTION read_events_after, event_horizon;"
        " DROP TABLE rm_daily_activity, rm_appointments, rm_practitioners, rm_patients,"
        " projection_checkpoints; DROP POLICY projector_reads_all ON events;"
    )
