"""SpatialDreamer Studio: the PySide6 front end. Imports only engine.api and engine.document."""
