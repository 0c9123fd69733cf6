"""The HTTP run API (FastAPI)."""
