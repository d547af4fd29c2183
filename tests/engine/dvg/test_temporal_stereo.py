"""TemporalStereo streaming: shot cuts, single frames, modes, bounded window, backends, misuse."""

from dataclasses import replace

import pytest
import torch

from engine.dvg import DvgConfig, TemporalStereo, background_disparity
from engine.dvg.inpaint import SPATIAL_SYNTHESIS
from engine.errors import UsageError
from engine.ops import render_views, splat_with_disparity
from engine.ops.edges import background_halo, soften_edges

TINT = (0.08, -0.08 * 0.299 / 0.587, 0.0)  # changes chroma, not the luma DIS sees

# A frame DVG renders alone (no neighbour) is this per-frame render (linear mesh, row + membrane fill).
ALONE = SPATIAL_SYNTHESIS


def _push_all(ts, images, disparities, start=0):
    out = []
    for i, (image, disp) in enumerate(zip(images, disparities, strict=True)):
        out += ts.push(start + i, image, disp)
    return out


def _hole_pixels(image, disp, views):
    """(3, N) right-view values at the frame's own disocclusions behind the foreground.

    The strip the disparity opens at the frame's right edge is left out: flow there points out
    of the frame, is never confident, and that strip is refilled spatially in every frame."""
    holes = splat_with_disparity(image, disp, 1.0)[1][0, 0]
    holes[:, -4:] = False
    return views.right[0][:, holes]


def test_reset_keeps_content_from_crossing_a_cut(make_clip):
    """Scene B is scene A with a luma-preserving tint: flow sees no cut, so only reset() separates them.

    Hard edges (edge_blend 0): the pixel beside the foreground would otherwise take a quarter of the
    current frame's foreground, which is not the carried fill."""
    a = make_clip(frames=4, bg_speed=0, fg_speed=0, seed=4)
    tint = torch.tensor(TINT).view(1, 3, 1, 1)
    b_images = [im + tint for im in a.images]
    alone, config = replace(ALONE, edge_blend=0.0), DvgConfig(edge_blend=0.0)
    fill_a = _hole_pixels(a.images[0], a.disparities[0],
                          render_views(a.images[0], a.disparities[0], "right", synthesis=alone))
    fill_b = _hole_pixels(b_images[0], a.disparities[0],
                          render_views(b_images[0], a.disparities[0], "right", synthesis=alone))
    assert not torch.allclose(fill_a, fill_b, atol=0.05)
    joined = TemporalStereo(config, "right")
    crossed = _push_all(joined, a.images + b_images, a.disparities * 2) + joined.flush()
    assert not joined.notes  # no cut found: the scenes match by flow
    # A's fill is carried into B (bilinearly: DIS's flow between the scenes is near zero, not exactly zero)
    assert torch.allclose(_hole_pixels(b_images[0], a.disparities[0], crossed[4][1]), fill_a, atol=0.005)
    separate = TemporalStereo(config, "right")
    first = _push_all(separate, a.images, a.disparities) + separate.flush()
    separate.reset()
    second = _push_all(separate, b_images, a.disparities, start=4) + separate.flush()
    assert [i for i, _ in first + second] == list(range(8))
    for _, views in second:
        assert torch.equal(_hole_pixels(b_images[0], a.disparities[0], views), fill_b)


def test_a_cut_is_found_from_the_flow_and_nothing_crosses_it(make_clip):
    a = make_clip(frames=5, bg_speed=0, fg_speed=0, seed=0, bg_tint=(1.0, 0.6, 0.6))
    b = make_clip(frames=5, bg_speed=0, fg_speed=0, seed=5, bg_tint=(0.6, 0.6, 1.0), fg_box=(40, 40, 30))
    images, disps = a.images + b.images, a.disparities + b.disparities
    ts = TemporalStereo(DvgConfig(), "right")
    out = _push_all(ts, images, disps) + ts.flush()
    assert any("frames 4-5" in note and "cut" in note for note in ts.notes)
    assert len(ts.notes) == 1  # and nowhere else
    for i, views in out:
        px = _hole_pixels(images[i], disps[i], views)
        red_minus_blue = px[0] - px[2]
        assert bool((red_minus_blue > 0).all()) if i < 5 else bool((red_minus_blue < 0).all()), i


def test_a_clip_of_nothing_but_cuts_is_filled_frame_by_frame(make_clip):
    """Every frame a new scene (PySceneDetect's minimum shot length would not split it): each pair is
    found to be a cut, no content crosses, and every frame is exactly the per-frame render."""
    tints = [(1.0, 0.6, 0.6), (0.6, 0.6, 1.0), (0.6, 1.0, 0.6), (1.0, 1.0, 0.5), (0.5, 1.0, 1.0), (1.0, 0.5, 1.0)]
    boxes = [(60, 30, 32), (10, 10, 40), (80, 50, 30), (30, 60, 25), (50, 5, 35), (5, 40, 45)]
    clips = [make_clip(frames=1, seed=10 + i, bg_tint=tint, fg_box=box) for i, (tint, box) in
             enumerate(zip(tints, boxes, strict=True))]
    images, disps = [c.images[0] for c in clips], [c.disparities[0] for c in clips]
    ts = TemporalStereo(DvgConfig(), "right")
    out = _push_all(ts, images, disps) + ts.flush()
    assert [i for i, _ in out] == list(range(6))
    assert sum("treated as a cut" in n for n in ts.notes) == 5
    assert sum("spatial fill only" in n for n in ts.notes) == 6
    for i, views in out:
        ref = render_views(images[i], disps[i], "right", synthesis=ALONE)
        assert torch.equal(views.right, ref.right) and torch.equal(views.right_holes, ref.right_holes), i


def test_single_frame_shot_is_the_spatial_fill_and_says_so(make_clip):
    clip = make_clip(frames=1)
    ts = TemporalStereo(DvgConfig(), "both")
    assert ts.push(7, clip.images[0], clip.disparities[0]) == []
    (index, views), = ts.flush()
    assert index == 7
    ref = render_views(clip.images[0], clip.disparities[0], "both", synthesis=ALONE)
    for a, b in ((views.left, ref.left), (views.right, ref.right), (views.left_holes, ref.left_holes),
                 (views.right_holes, ref.right_holes)):
        assert torch.equal(a, b)
    assert any("single-frame shot: spatial fill only" in n for n in ts.notes)


@pytest.mark.parametrize("mode", ["both", "right", "left"])
def test_synthesize_modes(make_clip, mode):
    clip = make_clip(frames=4, size=(64, 48), fg_box=(24, 12, 16))
    ts = TemporalStereo(DvgConfig(neighbours=1), mode)
    out = _push_all(ts, clip.images, clip.disparities) + ts.flush()
    assert [i for i, _ in out] == [0, 1, 2, 3]
    for i, views in out:
        for t in (views.left, views.right):
            assert t.shape == (1, 3, 48, 64) and t.dtype == torch.float32
        for t in (views.left_holes, views.right_holes):
            assert t.shape == (1, 1, 48, 64) and t.dtype == torch.bool
        if mode == "right":
            assert views.left is clip.images[i] or torch.equal(views.left, clip.images[i])
            assert not views.left_holes.any() and views.right_holes.any()
        if mode == "left":
            assert torch.equal(views.right, clip.images[i])
            assert not views.right_holes.any() and views.left_holes.any()
        if mode == "both":
            assert views.left_holes.any() and views.right_holes.any()
        for eye in (views.left, views.right):
            assert bool(((eye >= 0) & (eye <= 1)).all())


def test_window_is_bounded_and_frames_come_out_with_lag_k(make_clip):
    clip = make_clip(frames=12, size=(64, 48), fg_box=(24, 12, 16))
    k = 2
    ts = TemporalStereo(DvgConfig(neighbours=k), "right")
    assert ts.lag == k
    for i, (image, disp) in enumerate(zip(clip.images, clip.disparities, strict=True)):
        done = ts.push(i, image, disp)
        assert [j for j, _ in done] == ([i - k] if i >= k else [])
        assert ts.window_length <= 2 * k + 1
    assert [j for j, _ in ts.flush()] == [10, 11]
    assert ts.window_length == 0



def test_the_window_keeps_hole_integrals_only_beside_the_frame_completing(make_clip):
    """An eye's integral image (the numba propagation's cull) exists only while a frame left to complete
    reads it: after frame c completes, at most frames c and c+1 hold one."""
    clip = make_clip(frames=10, size=(64, 48), fg_box=(24, 12, 16))
    ts = TemporalStereo(DvgConfig(neighbours=3), "both", backend="numba")
    completed = 0
    for i, (image, disp) in enumerate(zip(clip.images, clip.disparities, strict=True)):
        for c, _ in ts.push(i, image, disp):
            held = {f.index for f in ts.snapshot()["frames"] if any(e.integral is not None for e in f.eyes.values())}
            assert held <= {c, c + 1}, (c, held)
            assert c + 1 in held  # made when frame c completed (its t+1), kept for completing c+1
            completed += 1
    assert completed == 7


def test_emitted_target_disparity_is_the_splat_and_halo_disparity(make_clip):
    """The window keeps only the background disparity; what it emits is rebuilt from it and the holes:
    NaN exactly in the eye's own holes, the z-buffer winner's disparity everywhere else."""
    clip = make_clip(frames=4, bg_speed=1, fg_speed=3, seed=2)
    ts = TemporalStereo(DvgConfig(halo_px=2), "right")
    views = dict(_push_all(ts, clip.images, clip.disparities) + ts.flush())
    for index, view in views.items():
        _, holes, target = splat_with_disparity(clip.images[index], clip.disparities[index], 1.0)
        grown, expected = background_halo(holes, target, 1.0, 2)
        assert torch.equal(torch.isnan(view.right_disparity), grown)
        assert torch.equal(torch.nan_to_num(view.right_disparity), torch.nan_to_num(expected))

def test_numba_and_torch_paths_agree_on_a_clip(make_clip):
    clip = make_clip(frames=6, size=(96, 64), fg_box=(40, 16, 24))
    outs = {}
    for backend in ("numba", "torch"):
        ts = TemporalStereo(DvgConfig(), "both", backend=backend)
        outs[backend] = _push_all(ts, clip.images, clip.disparities) + ts.flush()
    for (_, a), (_, b) in zip(outs["numba"], outs["torch"], strict=True):
        assert torch.equal(a.left_holes, b.left_holes) and torch.equal(a.right_holes, b.right_holes)
        assert torch.allclose(a.left, b.left, atol=1e-6) and torch.allclose(a.right, b.right, atol=1e-6)


def _own_holes(image, disp):
    """A right eye's own disocclusions as DVG sees them: the splat's holes grown by the background halo."""
    _, holes, target = splat_with_disparity(image, disp, 1.0)
    return background_halo(holes, target, 1.0, DvgConfig().halo_px)[0]


def test_depth_flicker_hole_is_propagated_to_adjacent_frames_only(make_clip):
    """Frame 3's depth has a spurious near strip: its disocclusion is marked in frames 2 and 4
    (t-1 / t+1 of it, confident flow), not in 1 or 5; every mask contains the frame's own holes."""
    clip = make_clip(frames=7, bg_speed=0, fg_speed=0, seed=6)
    disps = [d.clone() for d in clip.disparities]
    disps[3][..., 70:80, 20:30] = 8.0
    ts = TemporalStereo(DvgConfig(), "right")
    out = _push_all(ts, clip.images, disps) + ts.flush()
    spurious = _own_holes(clip.images[3], disps[3]) & ~_own_holes(clip.images[3], clip.disparities[3])
    assert spurious.sum() >= 50
    for i, views in out:
        own = _own_holes(clip.images[i], disps[i])
        assert bool((views.right_holes | ~own).all())
        assert torch.isnan(views.right_disparity[own]).all()
        extra = views.right_holes & ~own
        if i in (2, 4):
            assert torch.equal(extra, spurious)
        else:
            assert not extra.any(), i


def test_halo_pixels_beside_the_foreground_are_holes_of_the_eye(make_clip):
    """The background pixels beside a moved foreground (anti-aliased, tinted by it) become part of the eye's
    own disocclusions with ``halo_px``: marked as holes, disparity unknown, filled with the rest."""
    clip = make_clip(frames=3, bg_speed=1, fg_speed=3, seed=2)
    _, plain, target = splat_with_disparity(clip.images[1], clip.disparities[1], 1.0)
    grown = background_halo(plain, target, 1.0, 2)[0]
    assert int(grown.sum()) > int(plain.sum())
    for halo, mask in ((0, plain), (2, grown)):
        ts = TemporalStereo(DvgConfig(halo_px=halo), "right")
        views = dict(_push_all(ts, clip.images, clip.disparities) + ts.flush())[1]
        assert bool((views.right_holes | ~mask).all())
        assert torch.isnan(views.right_disparity[mask]).all()
        assert torch.isfinite(views.right).all()
        if halo == 0:  # without the halo those pixels keep their splatted colour and disparity
            assert torch.isfinite(views.right_disparity[grown & ~plain]).all()


def test_misuse_is_a_usage_error(make_clip):
    clip = make_clip(frames=3, size=(64, 48), fg_box=(24, 12, 16))
    ts = TemporalStereo(DvgConfig(), "right")
    ts.push(0, clip.images[0], clip.disparities[0])
    with pytest.raises(UsageError, match="consecutively"):
        ts.push(2, clip.images[2], clip.disparities[2])
    with pytest.raises(UsageError, match="shot is 64x48"):
        ts.push(1, torch.zeros((1, 3, 40, 64)), torch.zeros((1, 1, 40, 64)))
    with pytest.raises(UsageError, match="disparity"):
        ts.push(1, clip.images[1], clip.disparities[1][..., :10])
    with pytest.raises(UsageError, match="synthesize"):
        TemporalStereo(DvgConfig(), "centre")
    for bad in ({"neighbours": 0}, {"halo_px": -1}, {"halo_px": 1.5},
                {"beta": 0.0}, {"min_confident_fraction": 1.5}, {"alpha": float("nan")},
                {"cut_drop": -0.1}):
        with pytest.raises(UsageError):
            DvgConfig(**bad)


def test_staging_in_another_thread_gives_the_same_eyes_as_push(make_clip):
    """stage() (splats, pair flow) run ahead in a pipeline thread, then push_staged(): bit-identical to push()."""
    import threading

    from engine.flow import FlowEstimator

    clip = make_clip(frames=6, bg_speed=2, fg_speed=3, seed=7)
    plain = TemporalStereo(DvgConfig(), "both")
    expected = _push_all(plain, clip.images, clip.disparities) + plain.flush()
    staged_ts = TemporalStereo(DvgConfig(), "both")
    staged, previous = [], None

    def stage_all() -> None:
        nonlocal previous
        estimator = FlowEstimator(staged_ts.config.flow)
        for i, (image, disp) in enumerate(zip(clip.images, clip.disparities, strict=True)):
            previous = staged_ts.stage(i, image, disp, previous, estimator)
            staged.append(previous)

    worker = threading.Thread(target=stage_all)
    worker.start()
    worker.join()
    got = [done for s in staged for done in staged_ts.push_staged(s)] + staged_ts.flush()
    assert [i for i, _ in got] == [i for i, _ in expected] == list(range(6))
    for (_, a), (_, b) in zip(got, expected, strict=True):
        for name in ("left", "right", "left_holes", "right_holes"):
            assert torch.equal(getattr(a, name), getattr(b, name)), name


def test_a_frame_staged_against_the_wrong_neighbour_is_refused(make_clip):
    from engine.flow import FlowEstimator

    clip = make_clip(frames=3, bg_speed=1, fg_speed=1, seed=1)
    ts = TemporalStereo(DvgConfig(), "right")
    estimator = FlowEstimator(ts.config.flow)
    first = ts.stage(0, clip.images[0], clip.disparities[0], None, estimator)
    ts.push_staged(first)
    orphan = ts.stage(1, clip.images[1], clip.disparities[1], None, estimator)  # no pair flow with frame 0
    with pytest.raises(UsageError, match="staged after frame None"):
        ts.push_staged(orphan)


def test_emitted_eyes_are_edge_blended_and_the_window_is_not(make_clip):
    """Each emitted eye is the hard-edged eye with its layer boundaries softened (as the per-frame render);
    the fill carried from frame to frame is the hard-edged one, so with and without the blend every fill
    is the same and only the softened seam pixels differ."""
    clip = make_clip(frames=6, bg_speed=1, fg_speed=-3)
    runs = {}
    for blend in (0.0, 0.25):
        ts = TemporalStereo(DvgConfig(edge_blend=blend), "right")
        runs[blend] = dict(_push_all(ts, clip.images, clip.disparities) + ts.flush())
    changed = 0
    for i, soft in runs[0.25].items():
        hard = runs[0.0][i]
        disp = hard.right_disparity
        background = background_disparity(disp, torch.isnan(disp), 1.0)
        assert torch.equal(soft.right, soften_edges(hard.right, background, 1.0, 0.25))
        assert torch.equal(soft.right_holes, hard.right_holes)
        changed += int((soft.right != hard.right).any(dim=1).sum())
    assert changed > 0
