"""Visits (encounters): notes, vitals, orders, billable services and sign-off."""
