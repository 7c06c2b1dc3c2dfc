"""A patient's erasure reaches the specialty values of their visits and admissions.

The values are sealed under the patient's key (backend/specialties/events.py), so once the key
is destroyed every read of the events shows them redacted: a field's data as {}, a result as
"[erased]". The read models of visits and admissions were folded while the key still opened
them, so their rows are redacted when the erasure is projected (projections.framework.redacting
with this SET list), to exactly what a rebuild folding the redacted events gives: no specialty
data, each plugin event's data {}, each calculation's inputs {} and result "[erased]" (the
plugin, type, time and version stay).
"""

SPECIALTY_VALUES_REDACTED = """
  specialty_data = '{}'::jsonb,
  specialty_events = COALESCE(
    (SELECT jsonb_agg(e.value || '{"data": {}}'::jsonb ORDER BY e.n)
       FROM jsonb_array_elements(t.specialty_events) WITH ORDINALITY AS e(value, n)),
    '[]'::jsonb),
  calculations = COALESCE(
    (SELECT jsonb_object_agg(
              c.key, c.value || jsonb_build_object('inputs', '{}'::jsonb, 'result', $3::text))
       FROM jsonb_each(t.calculations) AS c(key, value)),
    '{}'::jsonb)
"""
