"""Context assembly: the budgeted pack of instructions, state, history, memories and tools."""
