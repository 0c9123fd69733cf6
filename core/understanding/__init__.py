"""Understanding: a turn's text becomes a structured command before any model is asked."""
