"""One graded frame of a source: `spatialdreamer frame` and `api.preview_images`, through the session.

The frame goes through :class:`engine.session.Session`, so it is the master's frame: δ normalised
over the frame's whole shot (the shot is analysed into the depth cache first, which also makes a
later `convert` of it a cache read), the same depth edits, curve, grade and renderer. The shots are
the ones convert would use for the same request (`--project`, `--shots FILE|auto|off`). With DVG
(`--temporal on`, the default) the frame is rendered with its neighbours (see Session.render).
"""

from __future__ import annotations

import numpy as np

from engine.document import parse_time
from engine.errors import UsageError
from engine.jobs.plan import output_paths
from engine.jobs.request import ConvertRequest, with_project_media
from engine.media import STILL_EXTENSIONS


def preview_frame(request: ConvertRequest, at: str) -> list[np.ndarray]:
    """Render frame `at` of the request's source as packed image(s) (two for the `pair` layout).

    Returns:
        list of (H, W, 3) uint8 (uint16 for 16-bit stills / 10-bit outputs) RGB images.
    """
    from engine.session import open_session  # the session builds on this package

    request = with_project_media(request)
    target = request.project if request.project is not None else request.input
    with open_session(target, clip=request.clip, request=request) as session:
        info = session.reader.info
        index = parse_time(at).resolve(info.video.fps, session.reader.index_at_time, info.video.start_timecode)
        if not 0 <= index < len(session):
            raise UsageError(f"--at {at} is past the end of the source ({len(session)} frames)",
                             path=request.input)
        return session.packed(index, exact=True)


def preview_outputs(request: ConvertRequest) -> tuple:
    """Paths `preview_frame`'s images go to; UsageError unless they are still formats."""
    if request.output.suffix.lower() not in STILL_EXTENSIONS:
        raise UsageError("a frame preview is a still image", path=request.output,
                         hint=f"Use one of {', '.join(sorted(STILL_EXTENSIONS))}")
    return output_paths(request.output, request.layout)
