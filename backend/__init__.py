"""Caretrail: an event-sourced clinical platform."""
