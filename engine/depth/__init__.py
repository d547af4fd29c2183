"""engine.depth."""
