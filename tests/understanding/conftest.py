"""Fixtures of the command-layer tests: the tool tests' real SMTP server."""

from tests.tools.conftest import smtp  # noqa: F401 - re-exported fixture
