"""Prometheus metrics: counters read from the database at scrape time (exact across the API and
worker processes), latency histograms and gauges kept in each process."""
