"""The voice plugin: wires voice into the app, the CLI and every Baton process."""

from __future__ import annotations


class _Plugin:
    """Placeholder until the voice surface registers its routes and hooks."""


plugin = _Plugin()
