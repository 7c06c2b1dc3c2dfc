"""enter_tenant: a transaction's tenant set, and the version of the tenant's own stream, in
the transaction's first statement (backend/eventstore/store.py, backend/handling.py).

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-01
"""

from backend.eventstore.migrate import execute_script

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None

# A SQL function runs its statements in order: the count reads the events under the tenant
# just set (row-level security), as the invoker.
ENTER_TENANT = """
CREATE FUNCTION enter_tenant(tenant text) RETURNS bigint
LANGUAGE sql VOLATILE SECURITY INVOKER AS $$
    SELECT set_config('app.tenant_id', tenant, true);
    SELECT coalesce(max(version), 0) FROM events
    WHERE tenant_id = tenant::uuid AND stream_type = 'tenant' AND stream_id = tenant::uuid;
$$;
REVOKE ALL ON FUNCTION enter_tenant(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION enter_tenant(text) TO caretrail_app, caretrail_projector;
"""


def upgrade() -> None:
    execute_script(ENTER_TENANT)


def downgrade() -> None:
    execute_script("DROP FUNCTION enter_tenant(text);")
