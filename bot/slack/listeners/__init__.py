"""Bolt listeners, one module per kind of input; each has `register(app, deps)`."""
