"""Calling the person back: when a run that began on a phone call finishes, or waits for a
yes/no, after the caller hung up, Baton phones them (if they opted in, outside their quiet
hours) and the call opens with the result or the one question."""
