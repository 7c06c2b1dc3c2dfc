"""Visits: notes, vitals, orders, billable services and sign-off."""
