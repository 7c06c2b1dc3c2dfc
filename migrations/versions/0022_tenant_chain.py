"""A chain the database alone cannot rewrite (docs/security.md, Tamper evidence).

- `events.mark`: the writer's mark, an HMAC the application computes under a key the database
  never holds (backend/eventstore/marks.py); `append_events` takes one per event. Events stored
  before this migration have none: `audit_chain_place.unmarked_until` is the last of them, and
  the signed heads repeat it, so raising it later shows.
- `audit_chain`: per tenant, every committed event linked in commit order by the chainer
  (backend/audit/chainer.py): link n is an HMAC, under the same outside key, of link n-1 and
  event n (content, mark, version, position, recorded_at). Deleted events, deleted streams and a
  rewritten past break links; a cut tail shows against the heads signed outside the database.
- `audit_chain_place`: how far in the global order the chainer has linked.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30
"""

from backend.eventstore.migrate import CURRENT_TENANT, execute_script

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

APPEND_EVENTS = """
CREATE FUNCTION append_events(
    p_tenant uuid, p_stream_types text[], p_stream_ids uuid[], p_expected bigint[],
    e_stream int[], e_offsets int[], e_ids uuid[], e_types text[], e_schema int[], e_data text[],
    e_meta text[], e_occurred timestamptz[], e_marks bytea[])
RETURNS TABLE (o_stream_id uuid, o_version bigint, o_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
  bases bigint[] := p_expected;
  bad record;
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
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
                        schema_version, data, metadata, occurred_at, mark)
    SELECT x.id, p_tenant, p_stream_types[x.sidx], p_stream_ids[x.sidx], bases[x.sidx] + x.off,
           x.typ, x.sv, x.dat::jsonb, x.meta::jsonb, x.occ, x.mrk
      FROM unnest(e_stream, e_offsets, e_ids, e_types, e_schema, e_data, e_meta, e_occurred,
                  e_marks)
           AS x(sidx, off, id, typ, sv, dat, meta, occ, mrk)
    RETURNING events.stream_id, events.version, events.position;
END $$;
GRANT EXECUTE ON FUNCTION append_events(uuid, text[], uuid[], bigint[], int[], int[], uuid[],
  text[], int[], text[], text[], timestamptz[], bytea[]) TO caretrail_app;
"""

UPGRADE = f"""
ALTER TABLE events ADD COLUMN mark bytea;
GRANT INSERT (mark) ON events TO caretrail_app;
DROP FUNCTION append_events(uuid, text[], uuid[], bigint[], int[], int[], uuid[], text[], int[],
  text[], text[], timestamptz[]);
{APPEND_EVENTS}

CREATE TABLE audit_chain (
    tenant_id   uuid   NOT NULL,
    seq         bigint NOT NULL,
    event_id    uuid   NOT NULL UNIQUE,
    position    bigint NOT NULL,
    recorded_at timestamptz NOT NULL,
    link        bytea  NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_chain_by_recording ON audit_chain (tenant_id, recorded_at, seq);
ALTER TABLE audit_chain ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_chain FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_chain USING (tenant_id = {CURRENT_TENANT});
CREATE POLICY chainer_writes_all ON audit_chain TO caretrail_projector
  USING (true) WITH CHECK (true);
GRANT SELECT ON audit_chain TO caretrail_app;
GRANT SELECT, INSERT ON audit_chain TO caretrail_projector;

CREATE TABLE audit_chain_place (
    only_row       boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    tx_id          xid8   NOT NULL DEFAULT '0',
    position       bigint NOT NULL DEFAULT 0,
    unmarked_until bigint NOT NULL
);
INSERT INTO audit_chain_place (unmarked_until) SELECT coalesce(max(position), 0) FROM events;
GRANT SELECT ON audit_chain_place TO caretrail_app;
GRANT SELECT, UPDATE ON audit_chain_place TO caretrail_projector;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def _without_marks(sql: str) -> str:
    """APPEND_EVENTS as migration 0001 made it."""
    for marked, plain in (
        (", e_marks bytea[])", ")"),
        (", mark)", ")"),
        (", x.mrk", ""),
        (",\n                  e_marks)", ")"),
        (", mrk)", ")"),
        (", bytea[])", ")"),
    ):
        sql = sql.replace(marked, plain)
    return sql


def downgrade() -> None:
    execute_script(
        "DROP TABLE audit_chain, audit_chain_place;"
        " DROP FUNCTION append_events(uuid, text[], uuid[], bigint[], int[], int[], uuid[],"
        " text[], int[], text[], text[], timestamptz[], bytea[]);"
        " ALTER TABLE events DROP COLUMN mark;" + _without_marks(APPEND_EVENTS)
    )
