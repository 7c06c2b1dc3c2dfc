"""Admissions: wards and beds, inpatient stays, transfers and discharges (hospitals only)."""
