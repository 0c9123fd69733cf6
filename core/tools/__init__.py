"""The governed tool layer: the model proposes, the tool layer disposes."""
