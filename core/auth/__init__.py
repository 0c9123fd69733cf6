"""API keys and identities."""
