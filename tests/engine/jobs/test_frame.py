"""engine.jobs.frame.FrameAssembly: staging a frame ahead of the stereo renderer in a pipeline thread."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.document import StereoParams
from engine.jobs.frame import FrameAssembly
from engine.jobs.request import ConvertRequest


def _frames(n: int) -> list[tuple[np.ndarray, torch.Tensor]]:
    """n (48, 64) frames of drifting noise over a near-left, far-right δ ramp."""
    rng = np.random.default_rng(3)
    base = rng.integers(30, 220, (48, 96, 3)).astype(np.uint8)
    delta = torch.linspace(0, 1, 64).repeat(48, 1)[None, None]
    return [(np.ascontiguousarray(base[:, i : i + 64]), delta) for i in range(n)]


def _run(request: ConvertRequest, staged: bool) -> tuple[list, list]:
    """Every frame's eyes through FrameAssembly, with or without :meth:`FrameAssembly.stage`; and the
    images of the frames that reached :meth:`FrameAssembly.push`."""
    assembly = FrameAssembly(request, torch.device("cpu"))
    done, pushed = [], []
    for i, (image, delta) in enumerate(_frames(6)):
        prepared = assembly.prepare(i, image, delta, StereoParams(4.0, 0.5))
        if staged:
            prepared = assembly.stage(prepared)
        pushed.append(prepared.image)
        done += assembly.push(prepared)
    return done + assembly.flush(), pushed


def test_a_staged_dvg_frame_leaves_its_image_behind_and_renders_the_same_eyes():
    """With DVG synthesising both eyes and no refiner, nothing after the stage reads the frame's image:
    the staged frame drops it (25 MB a 1080p frame in the pipeline's queue) and the eyes are unchanged."""
    request = ConvertRequest(Path("in.mp4"), Path("out.mp4"))
    plain, images = _run(request, staged=False)
    ahead, staged_images = _run(request, staged=True)
    assert all(image is not None for image in images) and all(image is None for image in staged_images)
    assert [i for i, _ in plain] == [i for i, _ in ahead] == list(range(6))
    for (_, a), (_, b) in zip(plain, ahead, strict=True):
        assert torch.equal(a.left, b.left) and torch.equal(a.right, b.right)
        assert torch.equal(a.right_holes, b.right_holes)
        assert torch.equal(torch.nan_to_num(a.right_disparity), torch.nan_to_num(b.right_disparity))


def test_a_staged_frame_keeps_its_image_when_an_eye_is_the_source():
    """Synthesising one eye, the other is the source image itself: the staged frame keeps it."""
    request = ConvertRequest(Path("in.mp4"), Path("out.mp4"), synthesize="right")
    ahead, staged_images = _run(request, staged=True)
    assert all(image is not None for image in staged_images)
    for (i, views), image in zip(ahead, staged_images, strict=True):
        assert torch.equal(views.left, image), i
