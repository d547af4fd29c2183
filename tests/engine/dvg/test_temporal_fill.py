"""Temporal inpainting: true background from other frames, never foreground, and no shimmer."""

from itertools import pairwise

import pytest
import torch

from engine.dvg import Candidate, DvgConfig, TemporalStereo, background_disparity, temporal_fill
from engine.dvg.inpaint import SPATIAL_SYNTHESIS, spatial_fill
from engine.ops import fill_holes, render_views, splat_with_disparity
from engine.ops.synthesis import SynthesisConfig

# The per-frame render before the view-synthesis work (row fill, linear mesh, hard edges): the baseline.
CLASSIC = SynthesisConfig.classic()


def _run(clip, config=None, synthesize="right", backend="auto"):
    """Push a whole clip through TemporalStereo; returns views in frame order."""
    ts = TemporalStereo(config or DvgConfig(), synthesize, backend=backend)
    out = []
    for i, (image, disp) in enumerate(zip(clip.images, clip.disparities, strict=True)):
        out += ts.push(i, image, disp)
    out += ts.flush()
    assert [i for i, _ in out] == list(range(len(clip.images)))
    return [views for _, views in out]


def _own_holes(clip, i, drop_right_edge=True):
    """(3, H, W) bool: frame i's right-view disocclusions behind the foreground (not the frame edge)."""
    holes = splat_with_disparity(clip.images[i], clip.disparities[i], 1.0)[1][0]
    if drop_right_edge:
        holes[..., -4:] = False
    return holes.expand(3, -1, -1)


def _hole_errors(clip, temporal) -> tuple[list, list]:
    """Per frame, mean |error| against the true right view over the own holes: temporal, spatial."""
    err_t, err_s = [], []
    for i, views in enumerate(temporal):
        mask = _own_holes(clip, i)
        spatial = render_views(clip.images[i], clip.disparities[i], "right", synthesis=CLASSIC).right[0]
        truth = clip.truth_right[i][0]
        err_t.append((views.right[0] - truth).abs()[mask].mean())
        err_s.append((spatial - truth).abs()[mask].mean())
    return err_t, err_s


def test_temporal_fill_recovers_the_true_background(make_clip):
    """Background translating, a square moving the other way: what the square hides now is seen
    in later frames. The temporal fill must be much closer to the true right view there."""
    clip = make_clip(frames=10, bg_speed=1, fg_speed=-3)
    temporal = _run(clip)
    err_t, err_s = _hole_errors(clip, temporal)
    mean_t, mean_s = torch.stack(err_t).mean(), torch.stack(err_s).mean()
    assert mean_t < 0.5 * mean_s, (mean_t, mean_s)
    # the first frames have two future neighbours that saw the background: nearly exact there
    assert torch.stack(err_t[:3]).mean() < 0.25 * torch.stack(err_s[:3]).mean()


def test_background_seen_in_past_frames_is_used_too(make_clip):
    clip = make_clip(frames=8, bg_speed=-2, fg_speed=2, seed=3)
    temporal = _run(clip)
    for i in range(2, 8):  # two past neighbours saw what the square now hides
        mask = _own_holes(clip, i)
        spatial = render_views(clip.images[i], clip.disparities[i], "right", synthesis=CLASSIC).right[0]
        truth = clip.truth_right[i][0]
        assert (temporal[i].right[0] - truth).abs()[mask].mean() < (spatial - truth).abs()[mask].mean()


def _tempting_frame():
    """A row with a hole whose flow points, in the neighbour, at a red foreground (or background)."""
    h, w = 4, 24
    view = torch.full((1, 3, h, w), 0.5)
    disp = torch.full((1, 1, h, w), 2.0)
    holes = torch.zeros((1, 1, h, w), dtype=torch.bool)
    holes[..., 10:14] = True
    disp[..., 4:10] = 10.0  # foreground left of the hole, background right of it
    view[:, 0, :, 4:10] = 1.0
    disp = torch.where(holes, float("nan"), disp)
    neighbour = torch.zeros((1, 3, h, w))
    neighbour[:, 0] = 1.0  # red everywhere
    fields = torch.zeros((3, h, w))
    fields[0] = 5.0  # every hole pixel is carried onto columns 15..18
    fields[2] = 1.0
    return view, holes, disp, neighbour, fields


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_foreground_never_fills_a_disocclusion(backend):
    view, holes, disp, neighbour, fields = _tempting_frame()
    background = background_disparity(disp, holes, 1.0)
    assert torch.all(background[holes] == 2.0)  # the hole's background side is the right one
    spatial = spatial_fill(view.clone(), holes, background, 1.0, backend=backend)
    n_disp = torch.full_like(disp, 10.0)  # the content the flow reaches is foreground
    cand = Candidate(neighbour, torch.zeros_like(holes), n_disp, fields)
    guide = disp[0, 0].nan_to_num(2.0)
    out, temporal = temporal_fill(view.clone(), holes, background, guide, [cand], 1.0, 1.0, backend=backend)
    assert not temporal.any()
    assert torch.equal(out, spatial)
    # control: the same content at background depth is taken, so the test above is meaningful
    cand_bg = Candidate(neighbour, torch.zeros_like(holes), torch.full_like(disp, 2.5), fields)
    out, temporal = temporal_fill(view.clone(), holes, background, guide, [cand_bg], 1.0, 1.0,
                                  backend=backend)
    assert torch.equal(temporal, holes)
    assert torch.all(out[0, 0][holes[0, 0]] == 1.0) and torch.all(out[0, 1][holes[0, 0]] == 0.0)
    # a candidate the flow does not trust is not taken either
    fields_low = fields.clone()
    fields_low[2] = 0.3
    cand_low = Candidate(neighbour, torch.zeros_like(holes), torch.full_like(disp, 2.5), fields_low)
    _, temporal = temporal_fill(view.clone(), holes, background, guide, [cand_low], 1.0, 1.0, backend=backend)
    assert not temporal.any()


def test_clip_where_the_previous_frame_shows_foreground_behind_the_hole(make_clip):
    """Square moving left fast over a background moving right: at t-1 (the first candidate) the
    square covers what the hole hides now. A red square must never appear in a filled hole."""
    clip = make_clip(frames=8, bg_speed=1, fg_speed=-3, fg_tint=(1.0, 0.15, 0.15))
    # the fill itself: without the emitted eyes' edge blend, which gives the pixel beside the square a
    # quarter of its colour by design (test_emitted_eyes_are_edge_blended_and_the_window_is_not)
    naive = _run(clip, DvgConfig(depth_tolerance_px=1e6, edge_blend=0.0))  # the depth test switched off
    guarded = _run(clip, DvgConfig(edge_blend=0.0))
    naive_red, guarded_red = 0, 0
    for i in range(len(clip.images)):
        mask = _own_holes(clip, i)[0]
        for views, count in ((naive, "naive"), (guarded, "guarded")):
            px = views[i].right[0][:, mask]
            red = int(((px[0] - px[1]) > 0.3).sum())
            if count == "naive":
                naive_red += red
            else:
                guarded_red += red
    assert naive_red > 20  # the temptation is real
    assert guarded_red == 0


def test_static_persistent_hole_has_no_shimmer(make_clip):
    clip = make_clip(frames=6, bg_speed=0, fg_speed=0, seed=2)
    temporal = _run(clip)
    pairs = zip(clip.images, clip.disparities, strict=True)
    spatial = [render_views(im, d, "right", synthesis=SPATIAL_SYNTHESIS).right for im, d in pairs]
    for a, b in pairwise(temporal):
        assert torch.equal(a.right, b.right)
    for a, b in pairwise(spatial):
        assert torch.equal(a, b)


def test_noise_makes_spatial_fill_flicker_but_not_the_temporal_fill(make_clip):
    clip = make_clip(frames=8, bg_speed=0, fg_speed=0, seed=2, noise=0.03)
    mask = _own_holes(clip, 0, drop_right_edge=False)
    temporal = [v.right[0][mask] for v in _run(clip)]
    spatial = [render_views(im, d, "right", synthesis=CLASSIC).right[0][mask]
               for im, d in zip(clip.images, clip.disparities, strict=True)]

    def flicker(seq):
        return torch.stack([(a - b).abs().mean() for a, b in pairwise(seq)]).mean()

    assert flicker(spatial) > 0.01  # noise of 0.03 does make the row fill flicker
    assert flicker(temporal) < 0.1 * flicker(spatial)


def test_motion_too_fast_for_the_flow_degrades_to_about_the_spatial_fill(make_clip):
    """Background 9 px/frame one way, square 9 px/frame the other on a 128-px frame: DIS cannot
    follow. What is accepted must still be background (no red square in a hole) and, pooled over
    the clip, no worse than the spatial fill by more than a little."""
    clip = make_clip(frames=10, bg_speed=9, fg_speed=-9, fg_tint=(1.0, 0.15, 0.15))
    temporal = _run(clip)
    err_t, err_s = _hole_errors(clip, temporal)
    for i, views in enumerate(temporal):
        px = views.right[0][:, _own_holes(clip, i)[0]]
        assert int(((px[0] - px[1]) > 0.3).sum()) == 0, i
    assert torch.stack(err_t).mean() < 1.2 * torch.stack(err_s).mean()


@pytest.mark.parametrize("seed", [0, 1])
def test_numba_and_torch_fill_agree_with_working_resolution_fields(seed):
    """Fields at a quarter of the frame (guided taps, gating, fallback taps), candidates that
    pass, fail the depth test, hit holes, leave the frame, and a carried one."""
    g = torch.Generator().manual_seed(seed)
    big_h, big_w, h, w = 40, 64, 10, 16
    disp = torch.full((1, 1, big_h, big_w), 2.0)
    disp[..., 10:30, 20:40] = 9.0
    holes = torch.rand((1, 1, big_h, big_w), generator=g) < 0.15
    background = torch.where(holes, 2.0 + torch.rand(holes.shape, generator=g), disp)
    guide_small = disp[0, 0, 2::4, 2::4] * (w / big_w)
    guide_small[3, 5] = float("nan")
    candidates = []
    for k in range(5):  # the last two carried (the previous frame's result, its holes filled)
        fields = torch.randn((3, h, w), generator=g) * 2
        fields[2] = (torch.rand((h, w), generator=g) > 0.2).float()
        cand_disp = torch.where(torch.rand(disp.shape, generator=g) < 0.3, 9.0, 2.5)
        view = torch.rand((1, 3, big_h, big_w), generator=g)
        cand_holes = torch.rand(holes.shape, generator=g) < 0.2
        candidates.append(Candidate(view, cand_holes, cand_disp, fields, carried=k >= 3))
    base = torch.rand((1, 3, big_h, big_w), generator=g)
    a, ta = temporal_fill(base.clone(), holes, background, guide_small, candidates, 0.5, 1.0, backend="numba")
    b, tb = temporal_fill(base.clone(), holes, background, guide_small, candidates, 0.5, 1.0, backend="torch")
    assert torch.equal(ta, tb)
    assert torch.equal(a, b)
    assert 0 < int(ta.sum()) < int(holes.sum())  # some filled from candidates, some spatially


def _striping_frame():
    """A 12-row hole run right of a foreground, over a background whose rows alternate dark / light."""
    h, w = 16, 32
    rows = torch.where(torch.arange(h) % 2 == 0, 0.2, 0.8)[:, None].expand(h, w)
    view = torch.stack([rows, rows, rows]).unsqueeze(0).contiguous().clone()
    disp = torch.full((1, 1, h, w), 2.0)
    disp[..., 6:12] = 10.0
    view[:, :, :, 6:12] = torch.tensor([1.0, 0.0, 0.0])[:, None, None]  # red foreground
    holes = torch.zeros((1, 1, h, w), dtype=torch.bool)
    holes[..., 2:14, 12:20] = True
    view[holes.expand(1, 3, h, w)] = 0.0
    disp = torch.where(holes, float("nan"), disp)
    return view, holes, disp


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_spatial_fallback_is_smooth_background_not_row_stripes(backend):
    """What no frame saw gets the membrane fill: the row fill copies one pixel per row (stripes as tall as
    the background's rows), the membrane smooths across rows; neither takes the foreground's red."""
    view, holes, disp = _striping_frame()
    background = background_disparity(disp, holes, 1.0, backend=backend)
    rows_only = fill_holes(view.clone(), holes, background, 1.0, backend=backend)
    ours = spatial_fill(view.clone(), holes, background, 1.0, backend=backend)
    inside = holes[0, 0]
    assert torch.equal(ours[..., ~holes[0, 0]], view[..., ~holes[0, 0]])  # only the holes change

    def stripes(x):  # mean |vertical step| between hole rows
        return (x[0, 1, 3:14, 12:20] - x[0, 1, 2:13, 12:20]).abs().mean()

    assert stripes(rows_only) > 0.5 and stripes(ours) < 0.5 * stripes(rows_only)
    red = ours[0, 0][inside] - ours[0, 1][inside]
    assert red.abs().max() < 1e-5  # grey, as the background: no foreground colour in the fill


def test_spatial_fallback_numba_equals_torch():
    view, holes, disp = _striping_frame()
    background = background_disparity(disp, holes, 1.0)
    a = spatial_fill(view.clone(), holes, background, 1.0, backend="numba")
    b = spatial_fill(view.clone(), holes, background, 1.0, backend="torch")
    assert torch.equal(a, b)


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_carried_fill_is_bilinear(backend):
    """The previous frame's result, carried by half a pixel: the mean of its two columns (bilinear; its
    filled pixels count). A real neighbour's holes never fill, so there the hole taps refuse the sample."""
    h, w = 4, 16
    view = torch.zeros((1, 3, h, w))
    holes = torch.zeros((1, 1, h, w), dtype=torch.bool)
    holes[..., 6:9] = True
    disp = torch.where(holes, float("nan"), torch.full((1, 1, h, w), 2.0))
    background = background_disparity(disp, holes, 1.0)
    previous = torch.where(torch.arange(w) % 2 == 0, 0.2, 0.6).expand(1, 3, h, w).contiguous()
    prev_holes = holes.clone()  # its hole pixels were filled: a carried candidate may take them
    fields = torch.zeros((3, h, w))
    fields[0], fields[2] = 0.5, 1.0
    guide = torch.full((h, w), 2.0)
    cand = Candidate(previous, prev_holes, torch.full_like(disp, 2.0), fields, carried=True)
    out, temporal = temporal_fill(view.clone(), holes, background, guide, [cand], 1.0, 1.0, backend=backend)
    assert torch.equal(temporal, holes)
    assert torch.allclose(out[0][:, holes[0, 0]], torch.tensor(0.4), atol=1e-6)
    real = Candidate(previous, prev_holes, torch.full_like(disp, 2.0), fields)
    _, temporal = temporal_fill(view.clone(), holes, background, guide, [real], 1.0, 1.0, backend=backend)
    assert not temporal[..., 6:8].any()  # 6.5 and 7.5: both taps and the nearest one are source holes
    assert temporal[..., 8].all()  # 8.5: a hole tap, so no bilinear, but the nearest tap (9) is real
