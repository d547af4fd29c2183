"""A two-shot project on a synthetic clip, and the unchunked reference master, for the render/farm tests."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from engine import api
from engine.document import Project, save_project
from engine.jobs.render_project import default_shots
from tests.support.shot_clips import two_shots


def two_shot_project(folder: Path, lengths: tuple[int, int]) -> Path:
    """folder/two.sdproj over folder/two.mp4: shots [0, a) and [a, a + b), default grades."""
    n = sum(lengths)
    media = two_shots(folder / "two.mp4", lengths)
    path = folder / "two.sdproj"
    save_project(Project.single(str(media), Fraction(24), n, default_shots([(0, lengths[0]), (lengths[0], n)])), path)
    return path


def frames_of(path: Path, fmt: str = "rgb24") -> list[np.ndarray]:
    """Every decoded frame of a master, RGB (`rgb48le` for 10-bit)."""
    with av.open(str(path)) as c:
        return [f.to_ndarray(format=fmt) for f in c.decode(video=0)]


def unchunked_master(project_file: Path, out: Path, codec: str = "ffv1") -> list[np.ndarray]:
    """`convert --project` (DVG on, FFV1 unless told) of the project, decoded."""
    request = api.ConvertRequest(input=None, project=api.load_project(project_file), output=out,
                                 encode=api.EncodeSettings(codec=codec))
    for _ in api.convert(request):
        pass
    return frames_of(out)


def video_packets(path: Path) -> list[bytes]:
    """The encoded video frames of a file, in order (to compare bitstreams)."""
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(video=0) if p.size]
