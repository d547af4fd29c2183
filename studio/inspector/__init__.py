"""The inspector: the grade at the playhead (labelled sliders with numeric entry) and the parallax readout."""
