"""Webhook subscriptions: `webhook_subscriptions` holds each subscription's URL, event types,
signing secret (encrypted with the master key), state and delivery progress: its place in the
global order, failures, the dispatcher's lease (backend/webhooks/table.py). Its life is recorded
on its own stream; this row is written in the same transaction.

A tenant table under RLS for the runtime role. The dispatcher (projector role) reads every
tenant's rows and writes only their progress columns; it reads of the API keys only whether the
subscription's key may still receive (never a digest). `events_by_tenant` lets a
subscription find its tenant's next events without walking other tenants'.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-02
"""

from backend.eventstore.migrate import CURRENT_TENANT, execute_script

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

UPGRADE = f"""
CREATE TABLE webhook_subscriptions (
    subscription_id    uuid        PRIMARY KEY,
    tenant_id          uuid        NOT NULL,
    key_id             uuid        NOT NULL,
    url                text        NOT NULL,
    types              text[]      NOT NULL,
    sealed_secret      bytea       NOT NULL,
    state              text        NOT NULL DEFAULT 'active'
                       CHECK (state IN ('active', 'disabled', 'deleted')),
    created_at         timestamptz NOT NULL,
    disabled_reason    text,
    after_tx           bigint      NOT NULL,
    after_position     bigint      NOT NULL,
    delivered_position bigint,
    delivered_at       timestamptz,
    failures           int         NOT NULL DEFAULT 0,
    last_error         text,
    next_attempt_at    timestamptz,
    lease_token        uuid,
    leased_until       timestamptz
);
CREATE INDEX webhook_subscriptions_by_key ON webhook_subscriptions (tenant_id, key_id);
CREATE INDEX webhook_subscriptions_active ON webhook_subscriptions (next_attempt_at)
    WHERE state = 'active';
ALTER TABLE webhook_subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_subscriptions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_subscriptions
  USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT});
CREATE POLICY dispatcher_delivers_all ON webhook_subscriptions TO caretrail_projector
  USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON webhook_subscriptions TO caretrail_app;
GRANT SELECT ON webhook_subscriptions TO caretrail_projector;
GRANT UPDATE (after_tx, after_position, delivered_position, delivered_at, failures, last_error,
              next_attempt_at, lease_token, leased_until)
  ON webhook_subscriptions TO caretrail_projector;

CREATE POLICY dispatcher_reads_keys ON api_keys FOR SELECT TO caretrail_projector USING (true);
GRANT SELECT (key_id, tenant_id, scopes, expires_at, revoked_at) ON api_keys
  TO caretrail_projector;

CREATE INDEX events_by_tenant ON events (tenant_id, tx_id, position);
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(
        "DROP INDEX events_by_tenant;"
        " REVOKE SELECT (key_id, tenant_id, scopes, expires_at, revoked_at) ON api_keys"
        " FROM caretrail_projector;"
        " DROP POLICY dispatcher_reads_keys ON api_keys; DROP TABLE webhook_subscriptions;"
    )
