"""The QC job on metadata-stripped SBS masters made by shifting images with numpy (known disparity)."""

import json
from fractions import Fraction

import numpy as np
import pytest

from engine import api
from engine.media import EncodeSettings, VideoWriter
from tests.engine.grading.stereo_scene import shifted_pair

W = 240


def write_master(path, pairs, layout="sbs", stereo_mode=None):
    """Lossless FFV1 .mkv of packed pairs; no stereo metadata unless `stereo_mode`."""
    axis = 1 if layout == "sbs" else 0
    return write_video(path, [np.concatenate([a, b], axis=axis) for a, b in pairs], stereo_mode)


def write_video(path, frames, stereo_mode=None):
    """Lossless FFV1 .mkv of (H, W, 3) uint8 frames at 24 fps."""
    h, w = frames[0].shape[:2]
    with VideoWriter(path, width=w, height=h, fps=Fraction(24), settings=EncodeSettings(codec="ffv1"),
                     stereo_mode=stereo_mode) as writer:
        for k, f in enumerate(frames):
            writer.write(f, Fraction(k, 24))
    return path


def scene(n=6, d_bg=-4, d_fg=2, **kw):
    """n frames, the box sliding right by 2 px a frame."""
    return [shifted_pair(d_bg=d_bg, d_fg=d_fg, box=(20, 140, 80 + 2 * k, 160 + 2 * k), **kw) for k in range(n)]


def run(gen):
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def test_master_parallax_matches_the_shift_and_passes(tmp_path):
    master = write_master(tmp_path / "m.mkv", scene(d_bg=-4, d_fg=2))
    out = tmp_path / "qc.json"
    report = run(api.qc(api.QcRequest(master, screen="tv65", layout="sbs-full", json=out)))
    assert report.mode == "master" and report.passed and report.exit_code == 0
    for s in report.frames:
        assert s.p01 == pytest.approx(-2 / W * 100, abs=0.2)
        assert s.p99 == pytest.approx(4 / W * 100, abs=0.2)
    assert report.master.eye_order in ("ok", "unknown") and report.master.matched_fraction > 0.6
    data = json.loads(out.read_text())
    assert data["schema"] == "QcReport.1" and data["passed"] is True and len(data["frames"]) == 6
    assert data["shots"][0]["p99_mm"] == pytest.approx(data["shots"][0]["p99"] * 14.4)


def test_over_budget_master_exits_6(tmp_path):
    master = write_master(tmp_path / "m.mkv", scene(d_bg=-4, d_fg=8))  # 8 px in front = −3.3 % < −2.5 %
    report = run(api.qc(api.QcRequest(master, screen="tv65", layout="sbs-full")))
    assert report.exit_code == 6
    assert any("outside the budget" in f for f in report.failures)


def test_swapped_eyes_are_detected_and_fail(tmp_path):
    pairs = [(r, l) for l, r in scene(n=4, d_bg=-9, d_fg=-3)]  # all behind the screen, eyes exchanged
    master = write_master(tmp_path / "m.mkv", pairs)
    report = run(api.qc(api.QcRequest(master, layout="sbs-full")))
    assert report.master.eye_order == "swapped"
    assert any("eyes are swapped" in f for f in report.failures) and report.exit_code == 6
    fixed = run(api.qc(api.QcRequest(master, layout="sbs-full", swap_eyes=True)))
    assert fixed.master.eye_order == "ok"


def test_top_bottom_master_from_declared_metadata(tmp_path):
    master = write_master(tmp_path / "m.mkv", scene(n=3), layout="tb", stereo_mode="top_bottom")
    report = run(api.qc(api.QcRequest(master)))
    assert report.mode == "master" and report.master.layout == "tb-full"
    assert any("declares top_bottom" in n for n in report.notes)
    assert report.frames[0].p99 == pytest.approx(4 / W * 100, abs=0.2)


def test_mono_file_given_as_a_master_is_reported_not_crashed(tmp_path):
    mono = [(np.ascontiguousarray(l[:, :120]), np.ascontiguousarray(l[:, 120:])) for l, _ in scene(n=3)]
    master = write_master(tmp_path / "mono.mkv", mono)
    report = run(api.qc(api.QcRequest(master, layout="sbs-full")))
    assert report.exit_code == 6
    assert any("do not match as a stereo pair" in f and "mono" in f for f in report.failures)


def test_vertical_and_colour_mismatch_are_warned(tmp_path):
    pairs = [(l, np.clip(np.roll(r, 3, axis=0) * np.float32([1.0, 0.8, 0.8]), 0, 255).astype(np.uint8))
             for l, r in scene(n=3)]
    report = run(api.qc(api.QcRequest(write_master(tmp_path / "m.mkv", pairs), layout="sbs-full")))
    assert report.master.vertical_pct == pytest.approx(3 / 160 * 100, abs=0.4)
    assert any("vertical disparity" in w for w in report.warnings)
    assert any("colour mismatch" in w for w in report.warnings)


def test_a_file_without_stereo_metadata_is_checked_as_a_mono_source(tmp_path):
    master = write_master(tmp_path / "plain.mkv", scene(n=3))
    conv = api.ConvertRequest(input=master, temporal=False, use_cache=False, shots="off")
    report = run(api.qc(api.QcRequest(master, convert=conv)))
    assert report.mode == "source" and report.master is None
    assert report.shots[0].suggestion is not None


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"budget": (2.0, -1.0)}, "must be below its maximum"),
    ({"screen": "imax"}, "tv65, cinema, desktop, headset"),
    ({"layout": "anaglyph"}, "cannot measure"),
])
def test_bad_requests_are_refused_before_any_work(tmp_path, kwargs, match):
    with pytest.raises(api.UsageError, match=match):
        run(api.qc(api.QcRequest(tmp_path / "missing.mkv", **kwargs)))


def test_report_never_overwrites_the_input(tmp_path):
    master = write_master(tmp_path / "m.mkv", scene(n=1))
    with pytest.raises(api.UsageError, match="overwrite the input"):
        run(api.qc(api.QcRequest(master, layout="sbs-full", json=master, overwrite=True)))
    before = master.read_bytes()
    (tmp_path / "r.html").write_text("old")
    with pytest.raises(api.OutputError, match="already exists"):
        run(api.qc(api.QcRequest(master, layout="sbs-full", report=tmp_path / "r.html")))
    assert master.read_bytes() == before and (tmp_path / "r.html").read_text() == "old"
