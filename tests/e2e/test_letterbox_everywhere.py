"""Letterbox bars found per shot, the same way in the master, the preview (session / `frame`), `qc` and a
chunked farm render: a shot with bars and a shot without, the preview and the farm equal to the master
frame for frame, and QC measuring the picture only."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import av
import numpy as np
import pytest

from engine import api
from engine.document import Project, save_project
from engine.jobs.render_project import default_shots
from engine.media.exr import read_exr
from tests.e2e.test_letterbox_cli import BAR, H, W, letterboxed
from tests.support.clips import write_clip

CUT, N = 5, 10


def full(index: int) -> np.ndarray:
    """(H, W, 3) uint8: a bright textured picture to the edges (the second shot: no bars)."""
    rng = np.random.default_rng(100 + index)
    y, x = np.mgrid[0:H, 0:W]
    picture = 90 + 2 * x + 3 * y + index
    return np.clip(picture[..., None] + rng.integers(0, 40, (H, W, 3)), 0, 255).astype(np.uint8)


def frames_of(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A two-shot project (bars in shot 1 only) and its convert master (per-frame path, lossless)."""
    folder = tmp_path_factory.mktemp("bars")
    media = write_clip(folder / "two.mkv", frames=N, codec="ffv1", pix_fmt="bgr0",
                       image_fn=lambda k: letterboxed(k) if k < CUT else full(k))
    project_file = folder / "two.sdproj"
    save_project(Project.single(str(media), Fraction(24), N, default_shots([(0, CUT), (CUT, N)])), project_file)
    request = api.ConvertRequest(input=None, project=api.load_project(project_file), output=folder / "master.mkv",
                                 encode=api.EncodeSettings(codec="ffv1"), temporal=False,
                                 params=api.StereoParams(4.0, 1 / 3), cache_dir=folder / "cache",
                                 export_depth=api.DepthExportSpec(folder / "depth", "exr", folder / "disp", "exr"))
    notes = [p.message for p in api.convert(request) if p.stage == "note"]
    disparity = [read_exr(folder / "disp" / f"two.disparity.{k:06d}.exr")["disparity"] for k in range(N)]
    return folder, project_file, replace(request, export_depth=None), frames_of(folder / "master.mkv"), disparity, \
        notes


def test_bars_are_found_per_shot(setup):
    _, _, _, _, disparity, notes = setup
    assert f"frames 0-{CUT - 1}: letterbox/pillarbox bars ({BAR} px top, {BAR} px bottom at eye size)" in \
        " ".join(notes)
    for k, d in enumerate(disparity):
        if k < CUT:  # on the screen plane (the export writes d = 0 as the smallest float)
            assert np.abs(d[:BAR]).max() < 1e-30 and np.abs(d[H - BAR:]).max() < 1e-30
        else:  # no bars in the second shot: its top rows have their depth
            assert np.abs(d[:BAR]).max() > 0.1


def test_preview_equals_the_master_frame(setup):
    _, _, request, master, _, _ = setup
    for n in (1, CUT - 1, CUT + 2):
        (image,) = api.preview_images(replace(request, output=None), f"{n}f")
        assert np.array_equal(image, master[n]), n


def test_session_readout_and_qc_leave_the_bars_out(setup):
    folder, project_file, request, _, disparity, _ = setup
    with api.open_session(api.load_project(project_file), request=request) as session:
        assert session.bars(1) is not None and session.bars(CUT + 1) is None
        readout = session.readout(1)
    report = None
    job = api.qc(api.QcRequest(folder / "two.mkv", project=request.project, convert=request))
    try:
        while True:
            next(job)
    except StopIteration as done:
        report = done.value
    for k, stats in enumerate(report.frames):
        picture = disparity[k][BAR:H - BAR] if k < CUT else disparity[k]
        assert stats.valid == pytest.approx(picture.size / (H * W))  # bars out of the check
        p = -picture / W * 100
        assert stats.p01 == pytest.approx(np.percentile(p, 1), abs=2e-3)
        assert stats.p99 == pytest.approx(np.percentile(p, 99), abs=2e-3)
    assert readout.near_pct == pytest.approx(report.frames[1].p01, abs=2e-3)


def test_a_chunked_farm_render_equals_the_master(setup):
    folder, project_file, request, master, _, _ = setup
    farm = replace(request, output=folder / "farm.mkv")
    for _ in api.render(api.RenderRequest(farm, chunk_frames=3, project_file=project_file)):
        pass
    frames = frames_of(folder / "farm.mkv")
    assert len(frames) == N and all(np.array_equal(a, b) for a, b in zip(frames, master, strict=True))
