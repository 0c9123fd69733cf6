"""Cost views: model spend summed by tenant, user, run, model, tool or task over a window."""
