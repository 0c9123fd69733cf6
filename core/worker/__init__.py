"""Workers: claim runs with leases and execute their steps."""
