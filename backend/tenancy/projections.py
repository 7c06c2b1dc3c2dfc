"""The practitioners read model: each practitioner's folded state."""

from __future__ import annotations

from backend.tenancy.model import PRACTITIONER
from projections.framework import mirrored

PRACTITIONERS = mirrored("practitioners", PRACTITIONER, "rm_practitioners", "practitioner_id")
