"""HTTP routes of the voice surface."""
