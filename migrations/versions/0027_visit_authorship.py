"""Visits: who wrote the note's current revision (`note_author`) and the hash of the note as
signed off (`signed_note_hash`), columns of the visit's state like the others. Revisions and
sign-offs recorded before carry neither: NULL is right for every existing row.

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-30
"""

from backend.eventstore.migrate import execute_script

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        "ALTER TABLE rm_visits ADD COLUMN note_author text, ADD COLUMN signed_note_hash text;"
    )


def downgrade() -> None:
    execute_script("ALTER TABLE rm_visits DROP COLUMN note_author, DROP COLUMN signed_note_hash;")
