"""Projections: the projector role, checkpoints, and the first read models.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from backend.eventstore.migrate import execute_script

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CURRENT_TENANT = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"
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

RLS = "\n".join(
    f"""
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {table}
  USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT});
CREATE POLICY projector_writes_all ON {table} TO caretrail_projector USING (true) WITH CHECK (true);
GRANT SELECT ON {table} TO caretrail_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO caretrail_projector;
"""
    for table in READ_MODELS
)


def upgrade() -> None:
    execute_script(UPGRADE)
    execute_script(RLS)


def downgrade() -> None:
    execute_script(
        "DROP TABLE rm_daily_activity, rm_appointments, rm_practitioners, rm_patients,"
        " projection_checkpoints; "
        "DROP POLICY projector_reads_all ON events;"
    )
