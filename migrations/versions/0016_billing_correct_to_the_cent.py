"""Billing correct to the cent: the invoices' returned credit (refunds that gave back an
overpayment, the rest of a refund cancels charges), payment_claims (a provider's payment id
captured by one tenant only) and the rm_payments read model (GET /v1/payments).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from backend.eventstore.migrate import CURRENT_TENANT, execute_script, read_model_security

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# Refunds recorded before this read as having cancelled charges (RefundIssued v1): 0 is right
# for every existing row.
UPGRADE = f"""
ALTER TABLE rm_invoices ADD COLUMN returned_credit numeric NOT NULL DEFAULT 0;

CREATE TABLE payment_claims (
    provider            text        NOT NULL,
    provider_payment_id text        NOT NULL,
    tenant_id           uuid        NOT NULL,
    payment_id          uuid        NOT NULL,
    claimed_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, provider_payment_id)
);
-- Every payment the gateway reported so far claims its id, the first tenant's where two did.
INSERT INTO payment_claims (provider, provider_payment_id, tenant_id, payment_id, claimed_at)
SELECT DISTINCT ON (data->>'provider', data->>'provider_payment_id')
       data->>'provider', data->>'provider_payment_id', tenant_id, stream_id, recorded_at
  FROM events
 WHERE stream_type = 'payment' AND event_type IN ('PaymentCaptured', 'PaymentRefused')
 ORDER BY data->>'provider', data->>'provider_payment_id', position;
-- The key is unique across tenants (the index is not subject to RLS), while each tenant reads
-- and writes only its own claims.
ALTER TABLE payment_claims ENABLE ROW LEVEL SECURITY;
ALTER TABLE payment_claims FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON payment_claims
  USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT});
GRANT SELECT, INSERT ON payment_claims TO caretrail_app;

CREATE TABLE rm_payments (
    tenant_id           uuid    NOT NULL,
    payment_id          uuid    NOT NULL,
    provider            text    NOT NULL,
    provider_payment_id text    NOT NULL,
    invoice_id          uuid,
    amount              numeric NOT NULL,
    currency            text    NOT NULL,
    status              text    NOT NULL,
    refusal_code        text,
    refusal_detail      text,
    refunded            numeric NOT NULL,
    refunds             jsonb   NOT NULL DEFAULT '[]',
    version             bigint  NOT NULL,
    PRIMARY KEY (tenant_id, payment_id)
);
CREATE INDEX rm_payments_by_invoice ON rm_payments (tenant_id, invoice_id, payment_id);
CREATE INDEX rm_payments_by_status ON rm_payments (tenant_id, status, payment_id);
{read_model_security("rm_payments")}
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(
        "DROP TABLE rm_payments, payment_claims;\n"
        "ALTER TABLE rm_invoices DROP COLUMN returned_credit;"
    )
