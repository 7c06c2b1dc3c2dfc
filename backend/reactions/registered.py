"""Every reaction the platform runs."""

from __future__ import annotations

from backend.notifications.reactions import appointment_reminder
from backend.reactions.framework import Reaction

ALL: tuple[Reaction, ...] = (appointment_reminder,)
