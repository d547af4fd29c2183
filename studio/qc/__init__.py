"""studio.qc: the studio's stereo QC — the QC track, the one-click grade suggestion, the comfort section."""
