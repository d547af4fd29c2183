"""engine.metrics."""
