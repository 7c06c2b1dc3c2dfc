"""Billing and payments: invoices, discounts, payments through a gateway, refunds, ledger."""
