"""The stateless agent layer: one step at a time, everything it knows comes from the store."""
