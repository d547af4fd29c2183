"""engine.dvg."""
