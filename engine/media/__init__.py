"""engine.media."""
