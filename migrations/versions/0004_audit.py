"""The auditor's view: a hash chain per stream (tamper evidence) and snapshots.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from backend.eventstore.migrate import CURRENT_TENANT, execute_script

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


UPGRADE = f"""
-- Each event's hash covers the previous event's hash in its stream and its own content, so
-- changing, removing or reordering a stored event breaks every later link. The content is
-- rendered without any session setting (jsonb's canonical text, epoch seconds for times), so
-- the same row always hashes the same. PL/pgSQL, not SQL: called from the insert trigger, a SQL
-- function is planned again in every transaction (measured: a third of append throughput at
-- 16 writers); PL/pgSQL keeps its plan for the session.
CREATE FUNCTION event_hash(
    prev bytea, event_id uuid, tenant_id uuid, stream_type text, stream_id uuid, version bigint,
    event_type text, schema_version int, data jsonb, metadata jsonb,
    occurred_at timestamptz, recorded_at timestamptz)
RETURNS bytea LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN sha256(convert_to(concat_ws(chr(31),
    encode(coalesce(prev, ''::bytea), 'hex'), event_id::text, tenant_id::text, stream_type,
    stream_id::text, version::text, event_type, schema_version::text, data::text, metadata::text,
    extract(epoch FROM occurred_at)::text, extract(epoch FROM recorded_at)::text), 'UTF8'));
END $$;

ALTER TABLE events ADD COLUMN hash bytea;

-- Chain an event as it is inserted. A row-level BEFORE trigger sees the rows inserted earlier by
-- the same statement, so several events of one stream appended together chain in order.
CREATE FUNCTION chain_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  prev bytea;
BEGIN
  IF NEW.version > 1 THEN
    SELECT e.hash INTO prev FROM events e
     WHERE e.tenant_id = NEW.tenant_id AND e.stream_type = NEW.stream_type
       AND e.stream_id = NEW.stream_id AND e.version = NEW.version - 1;
  END IF;
  NEW.hash := event_hash(prev, NEW.event_id, NEW.tenant_id, NEW.stream_type, NEW.stream_id,
                         NEW.version, NEW.event_type, NEW.schema_version, NEW.data, NEW.metadata,
                         NEW.occurred_at, NEW.recorded_at);
  RETURN NEW;
END $$;

-- Events stored before this migration get their chain once (as the owner, immutability paused).
ALTER TABLE events DISABLE TRIGGER events_immutable;
DO $$
DECLARE
  r record;
  prev bytea;
  last_stream text := '';
BEGIN
  FOR r IN SELECT * FROM events ORDER BY tenant_id, stream_type, stream_id, version LOOP
    IF r.tenant_id::text || r.stream_type || r.stream_id::text <> last_stream THEN
      prev := NULL;
      last_stream := r.tenant_id::text || r.stream_type || r.stream_id::text;
    END IF;
    prev := event_hash(prev, r.event_id, r.tenant_id, r.stream_type, r.stream_id, r.version,
                       r.event_type, r.schema_version, r.data, r.metadata, r.occurred_at,
                       r.recorded_at);
    UPDATE events SET hash = prev WHERE position = r.position;
  END LOOP;
END $$;
ALTER TABLE events ENABLE TRIGGER events_immutable;
ALTER TABLE events ALTER COLUMN hash SET NOT NULL;

CREATE TRIGGER events_chain BEFORE INSERT ON events
  FOR EACH ROW EXECUTE FUNCTION chain_event();

-- A tenant's events in recording order: audit export pages through it by keyset.
CREATE INDEX events_by_recording ON events (tenant_id, recorded_at, position);

-- Snapshots: an aggregate's state at a stream version, derived data (never the truth: a stream
-- always folds from its events, a snapshot only saves replaying the first `version` of them).
-- `max_recorded_at` / `max_occurred_at` over the covered events say which temporal cuts a
-- snapshot may serve. `state_version` is the aggregate's snapshot format: a snapshot of another
-- format is ignored.
CREATE TABLE snapshots (
    tenant_id        uuid   NOT NULL,
    stream_type      text   NOT NULL,
    stream_id        uuid   NOT NULL,
    version          bigint NOT NULL,
    position         bigint NOT NULL,
    state_version    int    NOT NULL,
    state            jsonb  NOT NULL,
    max_recorded_at  timestamptz NOT NULL,
    max_occurred_at  timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, stream_type, stream_id, version)
);
ALTER TABLE snapshots ENABLE ROW LEVEL SECURITY;
ALTER TABLE snapshots FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON snapshots
  USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT});
-- Erasure deletes the erased subject's snapshots (they hold their state in the clear).
GRANT SELECT, INSERT, DELETE ON snapshots TO caretrail_app;

-- Crypto-shredding: a data key per subject (patient), wrapped by the master key. Erasing a
-- subject nulls its key for good (a NULL key also refuses any new personal data for it).
CREATE TABLE subject_keys (
    tenant_id    uuid  NOT NULL,
    subject_id   uuid  NOT NULL,
    wrapped_key  bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    erased_at    timestamptz,
    PRIMARY KEY (tenant_id, subject_id)
);
ALTER TABLE subject_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE subject_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON subject_keys
  USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT});
CREATE POLICY projector_reads_all ON subject_keys FOR SELECT TO caretrail_projector USING (true);
GRANT SELECT, INSERT, UPDATE ON subject_keys TO caretrail_app;
GRANT SELECT ON subject_keys TO caretrail_projector;

-- Erasure also removes stored command responses about the subject (they echo personal data).
GRANT DELETE ON idempotency_keys TO caretrail_app;
-- An erased patient's read-model row keeps no birth date.
ALTER TABLE rm_patients ALTER COLUMN birth_date DROP NOT NULL;
ALTER TABLE rm_patients ADD COLUMN erased boolean NOT NULL DEFAULT false;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(
        "DROP TABLE subject_keys, snapshots; DROP TRIGGER events_chain ON events;"
        " DROP FUNCTION chain_event; ALTER TABLE events DROP COLUMN hash;"
        " DROP FUNCTION event_hash;"
    )
