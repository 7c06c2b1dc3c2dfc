"""Hardening: covering doctors on visits, the ledger in commit order with running balances.

- `rm_visits.covering`: the doctors who took cover of a visit (`VisitCoverTaken`), a column of
  the visit's state like the others (docs/API.md, Visits: who may do what).
- `rm_ledger_entries.tx_id`: with `position`, the posting's place in the store's commit order
  (the global order), which the ledger pages by; and the running debits and credits of the
  posting's account after it, over the tenant (`total_*`) and over its invoice
  (`invoice_*`), so no read sums the ledger. Existing rows take their event's transaction id,
  and their running totals are summed in that order.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30
"""

from backend.eventstore.migrate import execute_script

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE rm_visits ADD COLUMN covering jsonb NOT NULL DEFAULT '[]';

ALTER TABLE rm_ledger_entries
  ADD COLUMN tx_id bigint, ADD COLUMN total_debit numeric, ADD COLUMN total_credit numeric,
  ADD COLUMN invoice_debit numeric, ADD COLUMN invoice_credit numeric;
UPDATE rm_ledger_entries l SET tx_id = e.tx_id::text::bigint
  FROM events e WHERE e.event_id = l.journal_id;
UPDATE rm_ledger_entries l
   SET total_debit = o.total_debit, total_credit = o.total_credit,
       invoice_debit = o.invoice_debit, invoice_credit = o.invoice_credit
  FROM (SELECT tenant_id, entry_id,
               sum(debit) OVER totals AS total_debit, sum(credit) OVER totals AS total_credit,
               sum(debit) OVER invoices AS invoice_debit,
               sum(credit) OVER invoices AS invoice_credit
          FROM rm_ledger_entries
        WINDOW totals AS (PARTITION BY tenant_id, account, currency ORDER BY tx_id, position
                          ROWS UNBOUNDED PRECEDING),
               invoices AS (PARTITION BY tenant_id, invoice_id, account, currency
                            ORDER BY tx_id, position ROWS UNBOUNDED PRECEDING)) o
 WHERE l.tenant_id = o.tenant_id AND l.entry_id = o.entry_id;
ALTER TABLE rm_ledger_entries
  ALTER COLUMN tx_id SET NOT NULL, ALTER COLUMN total_debit SET NOT NULL,
  ALTER COLUMN total_credit SET NOT NULL, ALTER COLUMN invoice_debit SET NOT NULL,
  ALTER COLUMN invoice_credit SET NOT NULL;
DROP INDEX rm_ledger_entries_by_position, rm_ledger_entries_by_invoice;
CREATE INDEX rm_ledger_entries_in_order
    ON rm_ledger_entries (tenant_id, tx_id, position, account);
CREATE INDEX rm_ledger_entries_by_invoice
    ON rm_ledger_entries (tenant_id, invoice_id, tx_id, position, account);
CREATE INDEX rm_ledger_entries_by_account
    ON rm_ledger_entries (tenant_id, account, currency, tx_id, position);
CREATE INDEX rm_ledger_entries_by_invoice_account
    ON rm_ledger_entries (tenant_id, invoice_id, account, currency, tx_id, position);
"""

DOWNGRADE = """
ALTER TABLE rm_visits DROP COLUMN covering;
DROP INDEX rm_ledger_entries_in_order, rm_ledger_entries_by_invoice,
  rm_ledger_entries_by_account, rm_ledger_entries_by_invoice_account;
ALTER TABLE rm_ledger_entries DROP COLUMN tx_id, DROP COLUMN total_debit,
  DROP COLUMN total_credit, DROP COLUMN invoice_debit, DROP COLUMN invoice_credit;
CREATE INDEX rm_ledger_entries_by_invoice ON rm_ledger_entries (tenant_id, invoice_id, position);
CREATE INDEX rm_ledger_entries_by_position ON rm_ledger_entries (tenant_id, position);
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
