"""Event store: events, streams, tenants, idempotency keys; roles, RLS and the append function.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from backend.eventstore.migrate import execute_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The tenant of the current transaction; NULL (so: no rows) when unset or reset to ''.
CURRENT_TENANT = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"

TENANT_TABLES = ("tenants", "streams", "events", "idempotency_keys")

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

CREATE TABLE streams (
    tenant_id   uuid   NOT NULL,
    stream_type text   NOT NULL,
    stream_id   uuid   NOT NULL,
    version     bigint NOT NULL,
    PRIMARY KEY (tenant_id, stream_type, stream_id)
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
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, stream_type, stream_id, version)
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
-- -1 any, 0 no stream yet, n exactly n. Idempotent by event id: if the events already exist the
-- original result is returned. A wrong expected version raises SQLSTATE CT409 whose DETAIL is
-- JSON {stream_type, stream_id, expected, actual}.
CREATE FUNCTION append_events(
    p_tenant uuid, p_stream_types text[], p_stream_ids uuid[], p_expected bigint[],
    e_stream int[], e_ids uuid[], e_types text[], e_schema int[], e_data jsonb[], e_meta jsonb[],
    e_occurred timestamptz[])
RETURNS TABLE (o_event_id uuid, o_stream_type text, o_stream_id uuid, o_version bigint,
               o_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
  i int;
  n int;
  base bigint;
  cur bigint;
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  IF EXISTS (SELECT 1 FROM events e WHERE e.event_id = ANY (e_ids)) THEN
    RETURN QUERY SELECT e.event_id, e.stream_type, e.stream_id, e.version, e.position
      FROM events e WHERE e.event_id = ANY (e_ids) ORDER BY e.position;
    RETURN;
  END IF;
  FOR i IN 1 .. cardinality(p_stream_ids) LOOP
    n := (SELECT count(*) FROM unnest(e_stream) AS s(idx) WHERE s.idx = i);
    base := NULL;
    IF p_expected[i] = 0 THEN
      INSERT INTO streams (tenant_id, stream_type, stream_id, version)
        VALUES (p_tenant, p_stream_types[i], p_stream_ids[i], n)
        ON CONFLICT DO NOTHING;
      IF FOUND THEN base := 0; END IF;
    ELSIF p_expected[i] = -1 THEN
      INSERT INTO streams AS s (tenant_id, stream_type, stream_id, version)
        VALUES (p_tenant, p_stream_types[i], p_stream_ids[i], n)
        ON CONFLICT (tenant_id, stream_type, stream_id) DO UPDATE SET version = s.version + n
        RETURNING s.version - n INTO base;
    ELSE
      UPDATE streams s SET version = s.version + n
        WHERE s.tenant_id = p_tenant AND s.stream_type = p_stream_types[i]
          AND s.stream_id = p_stream_ids[i] AND s.version = p_expected[i];
      IF FOUND THEN base := p_expected[i]; END IF;
    END IF;
    IF base IS NULL THEN
      SELECT s.version INTO cur FROM streams s
        WHERE s.tenant_id = p_tenant AND s.stream_type = p_stream_types[i]
          AND s.stream_id = p_stream_ids[i];
      RAISE EXCEPTION 'wrong expected version for %/%', p_stream_types[i], p_stream_ids[i]
        USING ERRCODE = 'CT409',
              DETAIL = json_build_object('stream_type', p_stream_types[i],
                                         'stream_id', p_stream_ids[i],
                                         'expected', p_expected[i],
                                         'actual', coalesce(cur, 0))::text;
    END IF;
    RETURN QUERY WITH ins AS (
      INSERT INTO events (event_id, tenant_id, stream_type, stream_id, version, event_type,
                          schema_version, data, metadata, occurred_at)
      SELECT x.id, p_tenant, p_stream_types[i], p_stream_ids[i],
             base + row_number() OVER (ORDER BY x.ord), x.typ, x.sv, x.dat, x.meta, x.occ
        FROM unnest(e_stream, e_ids, e_types, e_schema, e_data, e_meta, e_occurred)
             WITH ORDINALITY AS x(sidx, id, typ, sv, dat, meta, occ, ord)
       WHERE x.sidx = i
       ORDER BY x.ord
      RETURNING events.event_id, events.stream_type, events.stream_id, events.version,
                events.position)
    SELECT * FROM ins ORDER BY 5;
  END LOOP;
END $$;

GRANT USAGE ON SCHEMA public TO caretrail_app, caretrail_relay;
GRANT SELECT, INSERT ON tenants TO caretrail_app;
GRANT SELECT, INSERT, UPDATE ON streams TO caretrail_app;
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
        "DROP FUNCTION append_events; DROP TABLE idempotency_keys, events, streams, tenants; "
        "DROP FUNCTION refuse_event_change;"
    )
