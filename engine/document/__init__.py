"""engine.document."""
