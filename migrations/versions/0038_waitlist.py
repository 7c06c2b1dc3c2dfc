"""The waitlist read model (backend/scheduling/waitlist_projection.py): one row per entry with
the last slot offered to it; the expiry of offers reads the open ones past their window.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-04
"""

from backend.eventstore.migrate import execute_script, read_model_security

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE rm_waitlist (
    tenant_id        uuid        NOT NULL,
    entry_id         uuid        NOT NULL,
    practitioner_id  uuid        NOT NULL,
    patient_id       uuid        NOT NULL,
    from_date        date        NOT NULL,
    to_date          date        NOT NULL,
    joined_at        timestamptz NOT NULL,
    position         bigint      NOT NULL,
    status           text        NOT NULL,
    offer_id         uuid,
    offer_start      timestamptz,
    offer_end        timestamptz,
    offer_expires_at timestamptz,
    offer_status     text,
    appointment_id   uuid,
    PRIMARY KEY (tenant_id, entry_id)
);
-- The expiry's question, across tenants: which open offers have run out?
CREATE INDEX rm_waitlist_open_offers ON rm_waitlist (offer_expires_at)
  WHERE offer_status = 'open';
CREATE INDEX rm_waitlist_by_offer ON rm_waitlist (tenant_id, offer_id);
CREATE INDEX rm_waitlist_in_line ON rm_waitlist (tenant_id, practitioner_id, position);
"""


def upgrade() -> None:
    execute_script(UPGRADE)
    execute_script(read_model_security("rm_waitlist"))


def downgrade() -> None:
    execute_script(
        "DROP TABLE rm_waitlist; DELETE FROM projection_checkpoints"
        " WHERE name IN ('waitlist', 'reaction:waitlist-offers');"
    )
