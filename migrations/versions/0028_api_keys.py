"""Partner API keys: `api_keys` holds each key's scopes, pinned version, expiry, revocation and
the SHA-256 digests of its secret (and of the previous one while a rotation retires it); the
keys' life is recorded as events on the tenant's stream (backend/tenancy), this row is written
in the same transaction.

It is a tenant table under RLS like the others, with one more way in: a key is presented
before any tenant is known, so `api_key_presented(key_id)` sets `caretrail.api_key` for its own
statement and reads the one row that names it (the `presented_key` policy); `api_key_used`
records its use at most once a minute.

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-30
"""

from backend.eventstore.migrate import CURRENT_TENANT, execute_script

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

PRESENTED = "NULLIF(current_setting('caretrail.api_key', true), '')::uuid"

UPGRADE = f"""
CREATE TABLE api_keys (
    key_id          uuid        PRIMARY KEY,
    tenant_id       uuid        NOT NULL,
    secret_digest   bytea       NOT NULL,
    retiring_digest bytea,
    retiring_at     timestamptz,
    scopes          text[]      NOT NULL,
    api_version     text        NOT NULL,
    expires_at      timestamptz,
    revoked_at      timestamptz,
    last_used_at    timestamptz
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id);
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys
  USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT});
CREATE POLICY presented_key ON api_keys FOR SELECT USING (key_id = {PRESENTED});
CREATE POLICY presented_key_use ON api_keys FOR UPDATE
  USING (key_id = {PRESENTED}) WITH CHECK (key_id = {PRESENTED});
GRANT SELECT, INSERT, UPDATE ON api_keys TO caretrail_app;

CREATE FUNCTION api_key_presented(k uuid)
RETURNS TABLE (tenant_id uuid, secret_digest bytea, retiring_digest bytea, retiring_live boolean,
               scopes text[], api_version text, revoked boolean, expired boolean,
               stale_use boolean)
LANGUAGE sql VOLATILE AS $$
  SELECT set_config('caretrail.api_key', k::text, true);
  SELECT tenant_id, secret_digest, retiring_digest, coalesce(retiring_at > now(), false), scopes,
         api_version, revoked_at IS NOT NULL, coalesce(expires_at <= now(), false),
         last_used_at IS NULL OR last_used_at < now() - interval '1 minute'
    FROM api_keys WHERE key_id = k;
$$;

CREATE FUNCTION api_key_used(k uuid) RETURNS void LANGUAGE sql VOLATILE AS $$
  SELECT set_config('caretrail.api_key', k::text, true);
  UPDATE api_keys SET last_used_at = now() WHERE key_id = k;
$$;
GRANT EXECUTE ON FUNCTION api_key_presented(uuid), api_key_used(uuid) TO caretrail_app;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(
        "DROP FUNCTION api_key_used(uuid); DROP FUNCTION api_key_presented(uuid);"
        " DROP TABLE api_keys;"
    )
