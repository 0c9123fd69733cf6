"""Signed webhooks: per-tenant subscriptions to run events, delivered through an outbox."""
