"""Rate limits of partner API keys: a key's own limit (`api_keys.rate_limit_per_minute`, null:
its tenant's default), and per tenant the default for its keys and the budget of all its keys
together (`api_rate_limits`, written when the tenant's policy changes them; no row: the
defaults of backend/auth/api_keys.py). `api_key_presented` returns them with the key, so
authenticating a key stays one statement, and the key's expiry and the end of its retiring
secret, the longest a process may keep it verified (backend/auth/verified_keys.py).

A presented key reads its own tenant's row of `api_rate_limits` (the `presented_key` policy),
as it reads its own row of `api_keys`, and nothing else.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-02
"""

from backend.eventstore.migrate import CURRENT_TENANT, execute_script

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

PRESENTED = "NULLIF(current_setting('caretrail.api_key', true), '')::uuid"

UPGRADE = f"""
ALTER TABLE api_keys ADD COLUMN rate_limit_per_minute integer;

CREATE TABLE api_rate_limits (
    tenant_id         uuid    PRIMARY KEY,
    key_per_minute    integer NOT NULL,
    tenant_per_minute integer NOT NULL
);
ALTER TABLE api_rate_limits ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_rate_limits FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_rate_limits
  USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT});
CREATE POLICY presented_key ON api_rate_limits FOR SELECT
  USING (tenant_id = (SELECT k.tenant_id FROM api_keys k WHERE k.key_id = {PRESENTED}));
GRANT SELECT, INSERT, UPDATE ON api_rate_limits TO caretrail_app;

DROP FUNCTION api_key_presented(uuid);
CREATE FUNCTION api_key_presented(k uuid)
RETURNS TABLE (tenant_id uuid, secret_digest bytea, retiring_digest bytea, retiring_live boolean,
               scopes text[], api_version text, revoked boolean, expired boolean,
               stale_use boolean, key_per_minute integer, tenant_key_per_minute integer,
               tenant_per_minute integer, expires_at timestamptz, retiring_at timestamptz)
LANGUAGE sql VOLATILE AS $$
  SELECT set_config('caretrail.api_key', k::text, true);
  SELECT a.tenant_id, a.secret_digest, a.retiring_digest, coalesce(a.retiring_at > now(), false),
         a.scopes, a.api_version, a.revoked_at IS NOT NULL, coalesce(a.expires_at <= now(), false),
         a.last_used_at IS NULL OR a.last_used_at < now() - interval '1 minute',
         a.rate_limit_per_minute, l.key_per_minute, l.tenant_per_minute, a.expires_at,
         a.retiring_at
    FROM api_keys a LEFT JOIN api_rate_limits l ON l.tenant_id = a.tenant_id
   WHERE a.key_id = k;
$$;
GRANT EXECUTE ON FUNCTION api_key_presented(uuid) TO caretrail_app;
"""

DOWNGRADE = """
DROP FUNCTION api_key_presented(uuid);
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
GRANT EXECUTE ON FUNCTION api_key_presented(uuid) TO caretrail_app;
DROP TABLE api_rate_limits;
ALTER TABLE api_keys DROP COLUMN rate_limit_per_minute;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
