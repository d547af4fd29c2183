"""The media and shot bin: the project's clips and their shots."""
