"""Event store: events, tenants, idempotency keys; roles, RLS and the append function.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from backend.eventstore.migrate import CURRENT_TENANT, execute_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The tenant of the current transaction; NULL (so: no rows) when unset or reset to ''.

TENANT_TABLES = ("tenants", "events", "idempotency_keys")

UPGRADE = """
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'caretrail_app') THEN
    CREATE ROLE caretrail_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'caretrail_relay') THEN
    CREATE ROLE caretrail_relay LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
END $$;

CREATE TABLE tenants (
    tenant_id  uuid PRIMARY KEY,
    slug       text NOT NULL UNIQUE,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE events (
    position       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id          xid8   NOT NULL DEFAULT pg_current_xact_id(),
    event_id       uuid   NOT NULL UNIQUE,
    tenant_id      uuid   NOT NULL,
    stream_type    text   NOT NULL,
    stream_id      uuid   NOT NULL,
    version        bigint NOT NULL,
    event_type     text   NOT NULL,
    schema_version int    NOT NULL DEFAULT 1,
    data           jsonb  NOT NULL,
    metadata       jsonb  NOT NULL DEFAULT '{}',
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT statement_timestamp(),
    CONSTRAINT events_stream_version UNIQUE (tenant_id, stream_type, stream_id, version)
);
-- The gap-safe global order is (tx_id, position); see docs/architecture.md.
CREATE INDEX events_global_order ON events (tx_id, position);

CREATE TABLE idempotency_keys (
    tenant_id    uuid NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    status_code  int  NOT NULL,
    response     jsonb NOT NULL,
    headers      jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

CREATE FUNCTION refuse_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'events are immutable: % refused', TG_OP USING ERRCODE = 'CT403';
END $$;
CREATE TRIGGER events_immutable BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION refuse_event_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_event_change();

-- Append events to one or more streams atomically, each with an expected version:
-- -1 any, 0 no stream yet, n exactly n. e_stream[k] names event k's stream (1-based index into
-- the stream arrays) and e_offsets[k] its 1-based place among that stream's new events, so event
-- k gets version base + offset. Returns, per event, its stream id, version and global position.
--
-- The unique index events_stream_version is what makes concurrent writers safe: of two appends
-- expecting the same version, the second blocks on the first's index entry and fails with a
-- unique violation once it commits (the store maps that to a version conflict). The checks below
-- only turn conflicts visible up front into SQLSTATE CT409 with the actual version in DETAIL
-- (JSON {stream_type, stream_id, expected, actual}). Appending to new streams (the common case)
-- costs one set_config and one INSERT: this is the hot path.
CREATE FUNCTION append_events(
    p_tenant uuid, p_stream_types text[], p_stream_ids uuid[], p_expected bigint[],
    e_stream int[], e_offsets int[], e_ids uuid[], e_types text[], e_schema int[], e_data text[],
    e_meta text[], e_occurred timestamptz[])
RETURNS TABLE (o_stream_id uuid, o_version bigint, o_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
  bases bigint[] := p_expected;
  bad record;
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  -- Exact versions, and streams given no events (a version check only), are checked here;
  -- a stream that gets events is also guarded by the unique index when it is written.
  IF 0 < ANY (p_expected) OR cardinality(p_stream_ids) > 1 THEN
    SELECT s.i, s.ev INTO bad
      FROM unnest(p_stream_types, p_stream_ids, p_expected) WITH ORDINALITY AS s(t, id, ev, i)
     WHERE s.ev >= 0
       AND (s.ev > 0 OR NOT (s.i::int = ANY (e_stream)))
       AND (   (s.ev > 0 AND NOT EXISTS (
                  SELECT 1 FROM events e WHERE e.tenant_id = p_tenant AND e.stream_type = s.t
                     AND e.stream_id = s.id AND e.version = s.ev))
            OR EXISTS (SELECT 1 FROM events e WHERE e.tenant_id = p_tenant AND e.stream_type = s.t
                         AND e.stream_id = s.id AND e.version = s.ev + 1))
     LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'wrong expected version for %/%', p_stream_types[bad.i], p_stream_ids[bad.i]
        USING ERRCODE = 'CT409',
              DETAIL = json_build_object(
                'stream_type', p_stream_types[bad.i], 'stream_id', p_stream_ids[bad.i],
                'expected', bad.ev,
                'actual', (SELECT coalesce(max(e.version), 0) FROM events e
                            WHERE e.tenant_id = p_tenant AND e.stream_type = p_stream_types[bad.i]
                              AND e.stream_id = p_stream_ids[bad.i]))::text;
    END IF;
  END IF;
  IF -1 = ANY (p_expected) THEN
    SELECT array_agg(CASE WHEN s.ev = -1 THEN
             (SELECT coalesce(max(e.version), 0) FROM events e WHERE e.tenant_id = p_tenant
                AND e.stream_type = s.t AND e.stream_id = s.id)
           ELSE s.ev END ORDER BY s.i)
      INTO bases
      FROM unnest(p_stream_types, p_stream_ids, p_expected) WITH ORDINALITY AS s(t, id, ev, i);
  END IF;
  RETURN QUERY
    INSERT INTO events (event_id, tenant_id, stream_type, stream_id, version, event_type,
                        schema_version, data, metadata, occurred_at)
    SELECT x.id, p_tenant, p_stream_types[x.sidx], p_stream_ids[x.sidx], bases[x.sidx] + x.off,
           x.typ, x.sv, x.dat::jsonb, x.meta::jsonb, x.occ
      FROM unnest(e_stream, e_offsets, e_ids, e_types, e_schema, e_data, e_meta, e_occurred)
           AS x(sidx, off, id, typ, sv, dat, meta, occ)
    RETURNING events.stream_id, events.version, events.position;
END $$;

-- Bound the xmin-horizon trap for our own sessions: no transaction of the runtime roles can sit
-- idle or run long and so hold back the global reader (docs/architecture.md).
ALTER ROLE caretrail_app SET idle_in_transaction_session_timeout = '5s';
ALTER ROLE caretrail_app SET statement_timeout = '30s';
ALTER ROLE caretrail_relay SET idle_in_transaction_session_timeout = '5s';
ALTER ROLE caretrail_relay SET statement_timeout = '30s';
DO $$
BEGIN
  IF current_setting('server_version_num')::int >= 170000 THEN
    EXECUTE format('ALTER ROLE caretrail_app SET transaction_timeout = %L', '30s');
  END IF;
END $$;

GRANT USAGE ON SCHEMA public TO caretrail_app, caretrail_relay;
GRANT SELECT, INSERT ON tenants TO caretrail_app;
-- Column list: the runtime role can never choose position, tx_id or recorded_at.
GRANT SELECT ON events TO caretrail_app;
GRANT INSERT (event_id, tenant_id, stream_type, stream_id, version, event_type, schema_version,
              data, metadata, occurred_at) ON events TO caretrail_app;
REVOKE UPDATE, DELETE, TRUNCATE ON events FROM caretrail_app, caretrail_relay;
GRANT SELECT, INSERT ON idempotency_keys TO caretrail_app;
GRANT EXECUTE ON FUNCTION append_events TO caretrail_app;
GRANT SELECT ON alembic_version TO caretrail_app;
-- The relay and projection runner read every tenant's events, and nothing else.
GRANT SELECT ON events TO caretrail_relay;
"""

RLS = (
    "\n".join(
        f"""
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {table}
  USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT});
"""
        for table in TENANT_TABLES
    )
    + """
CREATE POLICY relay_reads_all ON events FOR SELECT TO caretrail_relay USING (true);
"""
)


def upgrade() -> None:
    execute_script(UPGRADE)
    execute_script(RLS)


def downgrade() -> None:
    execute_script(
        "DROP FUNCTION append_events; DROP TABLE idempotency_keys, events, tenants; "
        "DROP FUNCTION refuse_event_change;"
    )
