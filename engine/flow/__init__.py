"""engine.flow."""
