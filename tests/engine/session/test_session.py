"""The studio's session: frame-accurate frames, δ exactly as the master uses it, analysis into the cache,
the master's per-frame path, prefetch from worker threads, and `frame` / preview_images through it."""

from __future__ import annotations

import threading
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine import api
from engine.document import edits
from engine.errors import Cancelled
from tests.support.shot_clips import two_shots

LENGTHS = (8, 10)
N = sum(LENGTHS)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return two_shots(tmp_path_factory.mktemp("clip") / "two.mp4", LENGTHS)


@pytest.fixture
def settings(tmp_path) -> api.ConvertRequest:
    """Per-frame path, lossless, a private cache."""
    return api.ConvertRequest(input=None, temporal=False, layout="sbs-full", cache_dir=tmp_path / "cache",
                              encode=api.EncodeSettings(codec="ffv1"), params=api.StereoParams(4.0, 0.4))


def project_of(clip: Path) -> api.Project:
    shots = (api.Shot(0, LENGTHS[0], api.Grade.constant(api.StereoParams(5.0, 0.3), 0), "one"),
             api.Shot(LENGTHS[0], N, api.Grade(), "two"))
    return api.Project.single(str(clip), Fraction(24), N, shots)


def master(tmp_path: Path, request: api.ConvertRequest, project: api.Project) -> tuple[list[np.ndarray], Path]:
    """Render the whole clip with convert; return its decoded frames and the depth-export folder."""
    out, export = tmp_path / "master.mkv", tmp_path / "export"
    job = replace(request, input=None, project=project, output=out,
                  export_depth=api.DepthExportSpec(export, "npy"))
    for _ in api.convert(job):
        pass
    with api.open_media(out) as reader:
        return [f.image for f in reader.frames()], export


def test_frame_is_frame_accurate_and_cached(clip, settings):
    with api.open_session(project_of(clip), request=settings) as s, api.open_media(clip) as reader:
        for n in (15, 3, 3, 17, 0):
            assert np.array_equal(s.frame(n), reader.frame(n).image)
        assert len(s) == N and s.shot_at(9).name == "two" and s.shot_at(2).name == "one"
        assert s.params_at(2) == api.StereoParams(5.0, 0.3)
        assert s.params_at(9) == api.StereoParams(4.0, 0.4)  # ungraded shot: the session's constant grade


def test_render_and_depth_equal_the_lossless_master(tmp_path, clip, settings):
    project = project_of(clip)
    frames, export = master(tmp_path, settings, project)
    with api.open_session(project, request=settings) as s:
        for n in (0, 5, LENGTHS[0], N - 1):  # both shots, their first and other frames
            left, right = s.render(n)
            assert np.array_equal(np.concatenate([left, right], axis=1), frames[n])
            depth = s.depth(n)
            assert not depth.provisional
            nearness = np.load(export / f"two.depth.{n:06d}.npy")  # the exact δ the grade used, as 1 − δ
            np.testing.assert_allclose(1.0 - depth.delta, nearness, atol=1e-6)


def test_preview_images_is_the_masters_frame(tmp_path, clip, settings):
    project = project_of(clip)
    frames, _ = master(tmp_path, settings, project)
    (image,) = api.preview_images(replace(settings, input=clip, project=project), f"{LENGTHS[0] + 2}f")
    assert np.array_equal(image, frames[LENGTHS[0] + 2])


def test_unanalysed_shot_is_provisional_until_analysed(clip, settings):
    with api.open_session(project_of(clip), request=settings) as s:
        shot = s.shot_at(12)
        first = s.depth(12)
        assert first.provisional and "not analysed" in first.reason and first.delta.shape == (90, 160)
        assert not s.analysed(shot)
        progress = list(s.analyse(shot))
        assert progress[-1].stage == "analyse" and progress[-1].done == progress[-1].total == len(shot)
        assert s.analysed(shot) and not s.depth(12).provisional
        assert not s.analysed(s.shot_at(0))  # the other shot is untouched


def test_analysis_is_cached_on_disk_and_cancellable(clip, settings):
    token = api.CancelToken()
    with api.open_session(project_of(clip), request=settings) as s:
        steps = s.analyse(s.shot_at(0), token)
        next(steps)
        token.cancel()
        with pytest.raises(Cancelled):
            list(steps)
        assert not s.analysed(s.shot_at(0))
        list(s.analyse(s.shot_at(0)))
        exact = s.depth(3).delta
    with api.open_session(project_of(clip), request=settings) as again:  # a new session: a cache read
        assert again.analysed(again.shot_at(0))
        assert np.array_equal(again.depth(3).delta, exact)


def test_exact_depth_analyses_on_demand(clip, settings):
    with api.open_session(project_of(clip), request=settings) as s:
        assert not s.depth(LENGTHS[0] + 1, exact=True).provisional


def test_update_follows_edits(clip, settings):
    project = project_of(clip)
    with api.open_session(project, request=settings) as s:
        list(s.analyse(s.shot_at(0)))
        before = s.readout(2)
        edited = edits.add_keyframe(project, "c1", 0, "divergence", 0, 1.0)
        s.update(edited)
        assert s.params_at(2).divergence == 1.0 and s.analysed(s.shot_at(0))
        after = s.readout(2)
        assert after.far_pct - after.near_pct == pytest.approx((before.far_pct - before.near_pct) / 5.0, rel=1e-3)
        assert after.ok and after.budget == (-1.0, 2.0) and after.near_mm == pytest.approx(after.near_pct * 14.4)


def test_prefetch_from_a_worker_thread_while_scrubbing(clip, settings):
    with api.open_session(project_of(clip), request=settings, frame_cache=N) as s:
        list(s.analyse(s.shot_at(0)))
        results: dict[int, int] = {}
        worker = threading.Thread(target=lambda: results.setdefault(0, s.prefetch(0, N)))
        worker.start()
        scrubbed = [s.frame(n) for n in (17, 2, 9, 4)]
        worker.join(timeout=60)
        assert results[0] == N
        with api.open_media(clip) as reader:
            for n, image in zip((17, 2, 9, 4), scrubbed, strict=True):
                assert np.array_equal(image, reader.frame(n).image)
        token = api.CancelToken()
        token.cancel()
        assert s.prefetch(0, N, token) == 0


def test_prefetch_loads_depth_only_where_asked(clip, settings):
    """depth=False decodes frames only; a predicate (playback: frames ahead of the playhead) picks the
    frames whose δ is read; the default reads every one."""
    with api.open_session(project_of(clip), request=settings, frame_cache=N) as s:
        list(s.analyse(s.shot_at(0)))
        s._deltas.clear()
        assert s.prefetch(0, LENGTHS[0], depth=False) == LENGTHS[0]
        assert not s._deltas  # no δ loaded
        assert s.prefetch(0, LENGTHS[0], depth=lambda i: i > 4) == LENGTHS[0]
        assert sorted(key[0] for key in s._deltas) == list(range(5, LENGTHS[0]))
        assert s.prefetch(0, LENGTHS[0]) == LENGTHS[0]
        assert sorted(key[0] for key in s._deltas) == list(range(LENGTHS[0]))


def test_dvg_render_differs_from_the_master_only_in_filled_holes(tmp_path, clip, settings):
    dvg = replace(settings, temporal=True)
    project = project_of(clip)
    frames, _ = master(tmp_path, dvg, project)
    with api.open_session(project, request=dvg) as s:
        n = LENGTHS[0] + 6
        views = s.views(n)
        left, right = s.render(n)
        got = np.concatenate([left, right], axis=1).astype(int)
        holes = np.concatenate([views.left_holes[0, 0].numpy(), views.right_holes[0, 0].numpy()], axis=1)
        differs = np.abs(got - frames[n].astype(int)).max(axis=2) > 0
        assert not (differs & ~holes).any()  # the warped content is the master's, pixel for pixel


def test_media_path_session_and_bad_clip(clip, settings):
    with api.open_session(clip, request=replace(settings, shots="auto")) as s:
        assert [(x.start, x.end) for x in s.clip.shots] == [(0, LENGTHS[0]), (LENGTHS[0], N)]  # detected cuts
    with pytest.raises(api.UsageError, match="no clip 'c9'"):
        api.open_session(project_of(clip), clip="c9", request=settings)


def test_a_converted_clip_opens_analysed(tmp_path, clip, settings):
    project = project_of(clip)
    frames, export = master(tmp_path, settings, project)
    with api.open_session(project, request=settings) as s:  # convert filled the cache and the shots' ranges
        assert all(s.analysed(shot) for shot in s.clip.shots)
        np.testing.assert_allclose(1.0 - s.depth(4).delta, np.load(export / "two.depth.000004.npy"), atol=1e-6)


def test_still_session_renders_like_convert(tmp_path, settings):
    rng = np.random.default_rng(7)
    still = tmp_path / "still.png"
    api.write_still(still, (rng.random((40, 64, 3)) * 255).astype(np.uint8))
    out = tmp_path / "out.png"
    for _ in api.convert(replace(settings, input=still, output=out, shots="auto")):
        pass
    with api.open_session(still, request=settings) as s, api.open_media(out) as written:
        assert len(s) == 1 and not s.depth(0, exact=True).provisional
        assert np.array_equal(s.packed(0)[0], written.frame(0).image)


@pytest.mark.parametrize("n", [-1, N, N + 5])
def test_a_frame_outside_the_clip_is_one_clear_error_for_every_per_frame_call(clip, settings, n):
    with api.open_session(project_of(clip), request=settings) as s:
        for call in (s.frame, s.depth, s.render, s.views):
            with pytest.raises(api.MediaError, match=rf"frame {n} is out of range \(0\.\.{N - 1}\)"):
                call(n)
