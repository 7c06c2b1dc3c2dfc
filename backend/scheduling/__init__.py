"""Scheduling: appointments and each practitioner's reserved slots, per day."""
