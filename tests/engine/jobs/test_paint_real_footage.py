"""Must show (issue #11): on real footage a stroke painted on frame 10 over a moving object stays on it at
frame 30 — track error of the stroke's centroid against hand-placed points, through the render's own path
(ClipEditor: flows from a sequential decode, DIS medium at 480 px, chained, pulled once)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine import api
from engine.document import Clip, Shot, Stroke
from engine.jobs.edits import ClipEditor

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "davis_rollercoaster_track.json"


@pytest.mark.slow
def test_paint_stroke_tracks_the_rollercoaster_car(tmp_path):
    truth = json.loads(FIXTURE.read_text())
    media = DATA / truth["media"]
    if not media.is_file():
        pytest.skip(f"{media} is not here (../shared/data)")
    points = {int(k): np.asarray(v) for k, v in truth["points"].items()}
    stroke = Stroke("s1", "push", 10, ((245.0, 160.0), (259.0, 160.0)), radius=10, softness=6, amount=-0.1,
                    edge_aware=True)
    with api.open_media(media) as reader:
        width, height = reader.info.video.width, reader.info.video.height
        shot = Shot(0, 31, strokes=(stroke,))
        clip = Clip("c1", str(media), Fraction(24), reader.info.video.frame_count, (shot,))
        cache = api.ArrayCache(tmp_path / "cache") if hasattr(api, "ArrayCache") else None
        editor = ClipEditor(clip, reader, (width, height), cache, None)
        carried = editor.shot_edits(shot).carried(stroke)
    start = np.asarray(carried.at(10, (height, width)).centroid())
    errors, still = [], []
    for t in (15, 20, 25, 30):
        moved = np.asarray(carried.at(t, (height, width)).centroid()) - start
        truth_moved = points[t] - points[10]
        errors.append(float(np.hypot(*(moved - truth_moved))))
        still.append(float(np.hypot(*truth_moved)))  # the error of a stroke that does not follow
    median, median_still = float(np.median(errors)), float(np.median(still))
    assert carried.first == 0 and carried.last == 30
    assert median <= 0.01 * width  # goal: median <= 1 % of the frame width (9.6 px); measured 5.3 px
    assert median * 3 <= median_still  # at least 3x better than no propagation; measured 27.7 / 5.3 = 5.2x
