"""Specialties: the registry of plugins/ manifests, specialty data, calculators, rules and
checklists."""
