"""engine.grading."""
