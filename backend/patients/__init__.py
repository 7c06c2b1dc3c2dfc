"""Patients: registration and demographic changes."""
