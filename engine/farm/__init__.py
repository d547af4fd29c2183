"""Farm integration: job descriptions for other render farms (OpenJD, OpenCue, plain JSON)."""
