"""Reminders that follow their appointment, and the patient's death: the read-model columns
for both, and one replay of the reminder reaction.

rm_patients gains `deceased` and `died_at` (PatientDied); rm_notifications gains the
appointment a reminder is about and why and when it was withdrawn (NotificationWithdrawn).

The appointment-reminder reaction now also withdraws the reminder of an appointment that
ended. Its checkpoint is moved back to the start of the store (and detached from its group), so
that reminders still pending for appointments cancelled, checked in, completed or marked no-show
before this release are withdrawn too; the rest of the replay records nothing (a confirmation
whose reminder exists, or whose appointment ended or started, queues none). The new
patient-death reaction starts at the beginning by itself and records the deaths of earlier
discharges as deceased.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from backend.eventstore.migrate import execute_script

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE rm_patients
    ADD COLUMN deceased boolean NOT NULL DEFAULT false,
    ADD COLUMN died_at  timestamptz;
ALTER TABLE rm_notifications
    ADD COLUMN appointment_id           uuid,
    ADD COLUMN withdrawal_reason        text,
    ADD COLUMN withdrawn_during_attempt int;
-- Detached from its group (projections/tracking.py), so it replays alone and joins again.
UPDATE projection_checkpoints SET tx_id = '0', position = 0, follows = NULL
    WHERE name = 'reaction:appointment-reminder';
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(
        "ALTER TABLE rm_notifications DROP COLUMN appointment_id,"
        " DROP COLUMN withdrawal_reason, DROP COLUMN withdrawn_during_attempt;"
        " ALTER TABLE rm_patients DROP COLUMN deceased, DROP COLUMN died_at;"
        " DELETE FROM projection_checkpoints WHERE name = 'reaction:patient-death';"
    )
