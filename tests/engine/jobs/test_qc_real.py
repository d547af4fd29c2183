"""Must-show checks on real clips: the suggestion puts every shot inside the tv65 budget, the master
`convert` writes from it passes master QC, and master QC agrees with project QC within 0.2 % of width."""

from pathlib import Path

import numpy as np
import pytest

from engine import api
from tests.engine.jobs.test_qc import run

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "resources" / "demo" / "demo.mp4"
DAVIS = ROOT.parent / "shared" / "data" / "mono_videos" / "davis_rollercoaster.mp4"
WIDTH = 320  # small eyes keep each clip to seconds


def suggest_convert_check(source: Path, tmp_path: Path, frames: int | None = None):
    cache = tmp_path / "cache"  # the depth pass runs once; the second check and convert read it back
    conv = api.ConvertRequest(input=source, max_width=WIDTH, cache_dir=cache)
    first = run(api.qc(api.QcRequest(source, screen="tv65", convert=conv)))
    project = first.suggested_project(media=str(source))
    graded = run(api.qc(api.QcRequest(source, screen="tv65", project=project, convert=conv)))
    master = tmp_path / "master.mp4"
    settings = api.EncodeSettings(crf=12)
    for _ in api.convert(api.ConvertRequest(input=source, output=master, max_width=WIDTH, project=project,
                                            layout="sbs-full", encode=settings, cache_dir=cache)):
        pass
    measured = run(api.qc(api.QcRequest(master, screen="tv65", layout="sbs-full")))
    return first, graded, measured


def assert_suggestion_and_agreement(first, graded, measured):
    budget = graded.budget
    a, b = budget.aim(0.9)
    assert graded.passed, graded.failures
    for row in graded.shots:  # every shot inside 90 % of the budget, at least 80 % of it used
        assert a - 1e-6 <= row.check.p01 and row.check.p99 <= b + 1e-6
        assert row.suggestion.flat or row.suggestion.budget_used(budget) >= 0.8
    assert measured.passed, measured.failures
    assert measured.master.eye_order != "swapped"
    for g, m in zip(graded.shots, measured.shots, strict=False):  # the shot table agrees within 0.2 %
        assert abs(g.check.p01 - m.check.p01) <= 0.2 and abs(g.check.p99 - m.check.p99) <= 0.2
    # and frame by frame. The two percentiles are taken over different pixels: project QC over every pixel,
    # master QC over the textured, left-right-consistent ones it can match (≈ 45 % of a DAVIS frame), whose
    # edge pixels the 5 px SGBM blocks pull toward the background. Pixel by pixel they agree (DAVIS frames
    # 0-60 at 320 px eyes: median error −0.03 %, MAD 0.06 % = 0.2 px), but on frames 18-26, where the
    # nearest 1 % is the cars and beams, the tails differ by up to 0.3 % (1 px). Measured 2026-12: median
    # 0.04 %, 95th percentile 0.199 % (weights-free depth v3) / 0.205 % (v4) on DAVIS, 0.04-0.07 % on the demo.
    # The bound is one matcher pixel (1/320 = 0.31 %) on the 95th percentile frame.
    p01 = np.array([[g.p01, m.p01] for g, m in zip(graded.frames, measured.frames, strict=True)])
    p99 = np.array([[g.p99, m.p99] for g, m in zip(graded.frames, measured.frames, strict=True)])
    assert np.median(np.abs(p01[:, 0] - p01[:, 1])) <= 0.1 and np.median(np.abs(p99[:, 0] - p99[:, 1])) <= 0.1
    assert np.percentile(np.abs(p01[:, 0] - p01[:, 1]), 95) <= 100.0 / WIDTH
    assert np.percentile(np.abs(p99[:, 0] - p99[:, 1]), 95) <= 100.0 / WIDTH


@pytest.mark.slow
def test_demo_clip_suggestion_master_passes_and_agrees(tmp_path):
    assert_suggestion_and_agreement(*suggest_convert_check(DEMO, tmp_path))


@pytest.mark.slow
@pytest.mark.skipif(not DAVIS.exists(), reason="needs ../shared/data (the DAVIS clip)")
def test_davis_clip_suggestion_master_passes_and_agrees(tmp_path):
    assert_suggestion_and_agreement(*suggest_convert_check(DAVIS, tmp_path))
