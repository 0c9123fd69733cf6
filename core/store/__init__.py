"""The context store: the system of record for runs."""
