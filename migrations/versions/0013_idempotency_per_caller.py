"""Idempotency keys per caller, expiring, and tombstoned by erasure.

- Scope: (tenant, actor, key) instead of (tenant, key), so two callers never share a key.
  Rows stored before this revision do not know their caller and could never be replayed, so
  they are dropped: a retry across the upgrade runs again.
- `expires_at`: a stored response is replayed until then; NULL for an erasure's tombstone,
  which is kept. Expired rows are deleted a few at a time by later keyed commands of the same
  tenant, through the index on (tenant_id, expires_at).
- `patient_id`: the patient a stored response is about, so that erasure finds its keys.
- `request_hash` may be NULL: a tombstone keeps no trace of the erased request's body.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24
"""

from backend.eventstore.migrate import execute_script

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UPGRADE = """
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys
    ADD COLUMN actor      text NOT NULL,
    ADD COLUMN patient_id uuid,
    ADD COLUMN expires_at timestamptz,
    ALTER COLUMN request_hash DROP NOT NULL,
    DROP CONSTRAINT idempotency_keys_pkey,
    ADD PRIMARY KEY (tenant_id, actor, key);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (tenant_id, expires_at)
  WHERE expires_at IS NOT NULL;
CREATE INDEX idempotency_keys_by_patient ON idempotency_keys (tenant_id, patient_id)
  WHERE patient_id IS NOT NULL;
-- Erasure turns stored responses into tombstones; an expired key is stored again.
GRANT UPDATE ON idempotency_keys TO caretrail_app;
"""

DOWNGRADE = """
REVOKE UPDATE ON idempotency_keys FROM caretrail_app;
DROP INDEX idempotency_keys_by_patient, idempotency_keys_expiry;
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys
    DROP CONSTRAINT idempotency_keys_pkey,
    DROP COLUMN actor,
    DROP COLUMN patient_id,
    DROP COLUMN expires_at,
    ALTER COLUMN request_hash SET NOT NULL,
    ADD PRIMARY KEY (tenant_id, key);
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
