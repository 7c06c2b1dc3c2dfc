"""The visits read model: each visit's folded state, one row per visit stream. When its patient
is erased the row's sealed text is redacted as a rebuild would fold it: the specialty values,
the reason (null), each note section and addendum text ("[erased]") and the note's reason."""

from __future__ import annotations

from backend.specialties.erasure import SPECIALTY_VALUES_REDACTED
from backend.visits.model import VISIT
from projections.framework import mirrored, redacting

_TEXT_REDACTED = """
  reason = NULL,
  note = CASE WHEN jsonb_typeof(t.note) = 'object'
              THEN (SELECT jsonb_object_agg(k, $3::text) FROM jsonb_object_keys(t.note) AS k)
         END,
  addenda = COALESCE(
    (SELECT jsonb_agg(a.value || jsonb_build_object('text', $3::text) ORDER BY a.n)
       FROM jsonb_array_elements(t.addenda) WITH ORDINALITY AS a(value, n)),
    '[]'::jsonb)
"""

VISITS = redacting(
    mirrored("visits", VISIT, "rm_visits", "visit_id"),
    f"{SPECIALTY_VALUES_REDACTED}, {_TEXT_REDACTED}",
)
