"""Admissions read models: admissions (with length of stay) and wards (beds and occupants).

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-23
"""

from backend.eventstore.migrate import execute_script, read_model_security

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

READ_MODELS = ("rm_admissions", "rm_wards")

UPGRADE = """
CREATE TABLE rm_admissions (
    tenant_id     uuid NOT NULL,
    admission_id  uuid NOT NULL,
    patient_id    uuid NOT NULL,
    ward_id       uuid NOT NULL,
    bed           text NOT NULL,
    specialty     text,
    reason        text NOT NULL,
    status        text NOT NULL,
    admitted_at   timestamptz NOT NULL,
    moved_at      timestamptz NOT NULL,
    transfers     int NOT NULL,
    discharged_at timestamptz,
    disposition   text,
    summary       text,
    version       bigint NOT NULL,
    PRIMARY KEY (tenant_id, admission_id)
);
CREATE INDEX rm_admissions_by_ward ON rm_admissions (tenant_id, ward_id, status, bed);
CREATE INDEX rm_admissions_by_patient ON rm_admissions (tenant_id, patient_id, admitted_at);

-- beds: the labels in order; occupants: {bed label: admission id}; released_at: {bed label:
-- when its last occupant left}.
CREATE TABLE rm_wards (
    tenant_id  uuid NOT NULL,
    ward_id    uuid NOT NULL,
    name       text NOT NULL,
    beds       jsonb NOT NULL,
    occupants  jsonb NOT NULL,
    released_at jsonb NOT NULL,
    version    bigint NOT NULL,
    PRIMARY KEY (tenant_id, ward_id)
);
"""

RLS = read_model_security(*READ_MODELS)


def upgrade() -> None:
    execute_script(UPGRADE)
    execute_script(RLS)


def downgrade() -> None:
    execute_script("DROP TABLE rm_wards, rm_admissions;")
