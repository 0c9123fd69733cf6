"""Runs: the state machine, the event log and its projection."""
