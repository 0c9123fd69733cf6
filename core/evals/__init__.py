"""Release-gate evaluations (`baton eval`) and decision replay of recorded runs (`baton replay`)."""
