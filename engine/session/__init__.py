"""The interactive front end's view of a project: one reader, one depth provider, the caches, prefetch,
and the master's exact per-frame render (see :mod:`engine.session.session` for the threading contract)."""

from engine.session.session import DepthFrame, Readout, Session, open_session

__all__ = ["DepthFrame", "Readout", "Session", "open_session"]
