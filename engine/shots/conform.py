"""Conform an edit to a media file: EDL / OTIO -> Project, with fps, length and start timecode probed.

The document layer reads timelines without touching media; this is the step that looks at the media
(engine.media.probe) to learn what the timeline's timecodes are measured against.
"""

from __future__ import annotations

from pathlib import Path

from engine.document import Project
from engine.document.otio_io import read_edl, read_otio
from engine.media import probe


def edl_to_project(edl_path: str | Path, media_path: str | Path, notes: list[str] | None = None) -> Project:
    """The shots of a CMX 3600 EDL, source timecodes read against the media's own start timecode.

    Args:
        notes: when given, one line is appended per event skipped or simplified.
    Raises:
        MediaError: the media cannot be probed. InvalidProject: the EDL is unreadable or no event uses it.
    """
    video = probe(media_path).video
    return read_edl(edl_path, video.fps, str(media_path), start_timecode=video.start_timecode,
                    frame_count=video.frame_count, notes=notes)


def otio_to_project(otio_path: str | Path, media_path: str | Path, notes: list[str] | None = None) -> Project:
    """The shots of an .otio timeline that use `media_path`, at the media's own fps and length."""
    video = probe(media_path).video
    return read_otio(otio_path, str(media_path), fps=video.fps, frame_count=video.frame_count, notes=notes)
