"""Notifications: an outbox of patient messages (reminders, receipts) sent through channels."""
