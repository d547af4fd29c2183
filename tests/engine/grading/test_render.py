"""engine.grading.render.render_graded's `flat` mask and api.render_frame's bars: d = 0 there (the master's
flat letterbox / pillarbox bars), the same eyes as before everywhere the mask leaves alone."""

from __future__ import annotations

import numpy as np
import torch

from engine import api
from engine.document import StereoParams
from engine.grading.render import render_graded
from engine.ops.bars import Bars

W, H = 96, 48


def _scene() -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.linspace(0.0, 1.0, W)
    image = torch.stack([x.expand(H, W), torch.linspace(0, 1, H)[:, None].expand(H, W), 1 - x.expand(H, W)])[None]
    delta = torch.linspace(0.0, 1.0, W).expand(1, 1, H, W).clone()
    return image, delta


def test_flat_rows_keep_the_source_and_no_mask_changes_nothing() -> None:
    image, delta = _scene()
    params = StereoParams(6.0, 1 / 3)
    plain = render_graded(image, delta, params)
    assert torch.equal(render_graded(image, delta, params, flat=None).left, plain.left)
    flat = torch.zeros(1, 1, H, W, dtype=torch.bool)
    flat[..., :6, :] = True  # a letterbox bar at the top
    views = render_graded(image, delta, params, flat=flat)
    for eye, before in ((views.left, plain.left), (views.right, plain.right)):
        assert torch.allclose(eye[..., :6, :], image[..., :6, :], atol=1e-6)  # unshifted: d = 0
        assert (eye[..., 16:, :] - before[..., 16:, :]).abs().max() < 1e-3  # rows clear of the bar: as before
    assert not torch.allclose(plain.left[..., :6, :], image[..., :6, :], atol=1e-3)  # graded without the mask


def test_render_frame_scales_the_sessions_bars_to_the_frame() -> None:
    image, delta = _scene()
    rgb = (image[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    bars = Bars(top=0, bottom=0, left=W // 8, right=W // 8, size=(W // 2, H // 2))  # at half size
    left, right = api.render_frame(rgb, delta[0, 0].numpy(), StereoParams(6.0, 1 / 3), device="cpu", bars=bars)
    cols = bars.scaled((W, H)).mask()
    inner_cols = cols.copy()
    inner_cols[:, W // 4 - 3: W // 4] = inner_cols[:, W - W // 4: W - W // 4 + 3] = False  # clear of the edges
    for eye in (left, right):
        assert np.array_equal(eye[inner_cols], rgb[inner_cols])
