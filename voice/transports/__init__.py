"""Transports that carry calls into the voice pipeline."""
