"""Maintenance scripts of the repository (``make docs`` runs readme_settings)."""
