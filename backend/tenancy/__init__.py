"""Tenancy: tenants (clinics, hospitals) and their practitioners."""
