"""Webhook subscriptions: a partner's API key subscribes a URL to event types; the dispatcher
delivers them as signed Standard Webhooks (docs/partners.md)."""
