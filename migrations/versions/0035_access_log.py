"""Who read which patient's data: `access_log`, one row per read of a patient's records (the
caller, the route and its query, the patients it answered about, the reason given, whether it
broke the glass), written in the read's own transaction, so that nothing is shown unrecorded.
Append-only: the runtime role may insert and select (its tenant's rows), and a trigger refuses
any UPDATE, DELETE or TRUNCATE, as on `events`.

Revision ID: 0035
Revises: 0034
Create Date: 2026-11-30
"""

from backend.eventstore.migrate import CURRENT_TENANT, execute_script

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None

UPGRADE = f"""
CREATE TABLE access_log (
    access_id   bigint GENERATED ALWAYS AS IDENTITY,
    tenant_id   uuid        NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    key_id      uuid,
    roles       text[]      NOT NULL,
    method      text        NOT NULL,
    route       text        NOT NULL,
    query       jsonb       NOT NULL,
    patient_ids uuid[]      NOT NULL,
    reason      text,
    break_glass boolean     NOT NULL DEFAULT false,
    request_id  text,
    PRIMARY KEY (tenant_id, access_id)
);
CREATE INDEX access_log_by_patient ON access_log USING gin (patient_ids);
CREATE INDEX access_log_by_actor ON access_log (tenant_id, actor, at);
ALTER TABLE access_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE access_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON access_log
  USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT});
GRANT SELECT, INSERT ON access_log TO caretrail_app;
CREATE FUNCTION refuse_access_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the access log is append-only: % refused', TG_OP USING ERRCODE = 'CT403';
END $$;
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
  FOR EACH ROW EXECUTE FUNCTION refuse_access_log_change();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_access_log_change();
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script("DROP TABLE access_log; DROP FUNCTION refuse_access_log_change();")
