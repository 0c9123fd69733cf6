"""HTTP routes of the handoff surface for API clients (devices, artifacts)."""
