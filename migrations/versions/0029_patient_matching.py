"""Patients found as staff type them: phones in E.164 beside the form typed, name keys without
accents, case or punctuation; and birth dates and phone digits indexed for the
possible-duplicate check on registration.

rm_patients gains `phone_as_typed` (a phone recorded before phones were read was recorded as
typed: that is its typed form too). `search_name` held the names case-folded; it now holds
their key (backend/patients/names.py), computed here for every row already projected, as the
projection computes it from now on.

No trigram index: the API reads rm_patients under forced row-level security, where PostgreSQL
evaluates the tenant policy before any condition whose function is not leakproof, and LIKE's
is not; so no index serves a LIKE for the API's role, and one would only slow every write
(docs/benchmarks.md, patient search).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-03
"""

from alembic import op
from sqlalchemy.util import await_

from backend.eventstore.migrate import execute_script
from backend.patients.names import name_key

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE rm_patients ADD COLUMN phone_as_typed text;
UPDATE rm_patients SET phone_as_typed = phone;
CREATE INDEX rm_patients_by_birth_date ON rm_patients (tenant_id, birth_date);
CREATE INDEX rm_patients_by_phone_digits ON rm_patients (tenant_id, phone_digits);
"""


def upgrade() -> None:
    # The owner is under the table's forced row-level security, which shows it no tenant's rows.
    execute_script("ALTER TABLE rm_patients NO FORCE ROW LEVEL SECURITY")
    execute_script(UPGRADE)
    driver = op.get_bind().connection.driver_connection
    assert driver is not None
    rows = await_(
        driver.fetch(
            "SELECT tenant_id, patient_id, given_name, family_name FROM rm_patients"
            " WHERE NOT erased"
        )
    )
    await_(
        driver.execute(
            "UPDATE rm_patients p SET search_name = k.key"
            " FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS k(tenant_id, patient_id, key)"
            " WHERE p.tenant_id = k.tenant_id AND p.patient_id = k.patient_id",
            [r["tenant_id"] for r in rows],
            [r["patient_id"] for r in rows],
            [name_key(r["given_name"], r["family_name"]) for r in rows],
        )
    )
    execute_script("ALTER TABLE rm_patients FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    execute_script(
        "DROP INDEX rm_patients_by_birth_date, rm_patients_by_phone_digits;"
        " ALTER TABLE rm_patients DROP COLUMN phone_as_typed;"
    )
