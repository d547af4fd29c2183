"""The demo renderer (resources/demo/make_demo.py): deterministic, geometrically exact depth, and the source
of the committed clip and fixture."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "resources" / "demo" / "make_demo.py"
CLIP = REPO / "resources" / "demo" / "demo.mp4"
FIXTURE = REPO / "tests" / "fixtures" / "demo_depth.npz"


@pytest.fixture(scope="module")
def md():
    """The script, imported as a module (it is not part of a package)."""
    spec = importlib.util.spec_from_file_location("make_demo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_demo"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("make_demo", None)


@pytest.fixture(scope="module")
def tiny(md):
    return md.ClipSpec(width=64, height=36)


def test_render_is_deterministic_and_seeded(md, tiny):
    cam = md.camera_at(tiny, 10)
    a, b = md.render_frame(cam), md.render_frame(cam)
    assert a.rgb.shape == (36, 64, 3) and a.rgb.dtype == np.uint8
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.depth, b.depth)
    other = md.render_frame(cam, seed=md.SEED + 1)
    assert np.abs(other.rgb.astype(int) - a.rgb).mean() > 1.0, "the seed should change the textures"
    depth, ids = md.trace_depth(cam)
    assert np.array_equal(depth, a.depth) and np.array_equal(ids, a.ids)


def test_rays_follow_the_documented_pinhole(md, tiny):
    cam = md.camera_at(tiny, 0)
    assert cam.focal_px == pytest.approx(32 / np.tan(np.radians(30)))
    y, x = 35, 20
    f = cam.focal_px
    expected = cam.forward + (x + 0.5 - 32) / f * cam.right - (y + 0.5 - 18) / f * cam.up
    assert np.allclose(cam.rays().reshape(36, 64, 3)[y, x], expected, atol=1e-6)
    assert np.allclose(cam.rays() @ cam.forward, 1.0, atol=1e-6), "ray t must equal camera-space Z"
    big = cam.resized(640, 360)
    assert big.focal_px == pytest.approx(10 * cam.focal_px)


@pytest.mark.parametrize("frame", [0, 71])
def test_depth_lands_on_the_geometry_it_reports(md, tiny, frame):
    cam = md.camera_at(tiny, frame)
    depth, ids = md.trace_depth(cam)
    surfaces = md.scene(md.SEED)
    assert np.isfinite(depth).all() and (depth > 0).all()
    kinds = {type(surfaces[k]).__name__ for k in np.unique(ids) if k < len(surfaces)}
    assert {"str", "Ridge", "Sphere", "Box"} <= kinds and (ids == len(surfaces)).any()
    p = cam.position.astype(np.float64) + depth[..., None].astype(np.float64) * cam.rays().reshape(36, 64, 3)
    tol = 2e-6 * depth + 1e-4
    for k, s in enumerate(surfaces):
        m = ids == k
        if not m.any():
            continue
        q = p[m]
        if isinstance(s, str):  # ground plane y = 0, and Z = -height / ray_y independently of the tracer
            assert np.abs(q[:, 1]).max() < tol[m].max()
            ray_y = cam.rays().reshape(36, 64, 3)[m][:, 1]
            assert np.allclose(depth[m], -cam.position[1] / ray_y, rtol=1e-5)
        elif isinstance(s, md.Ridge):
            assert np.allclose(q[:, 2], s.z, atol=tol[m].max())
            assert (q[:, 1] <= s.height(q[:, 0]) + 1e-3).all() and (q[:, 1] >= -1e-3).all()
        elif isinstance(s, md.Sphere):
            assert np.allclose(np.linalg.norm(q - s.center, axis=1), s.radius, atol=1e-4)
        else:
            local = np.abs((q - s.center) @ s.rotation) / s.half
            assert np.allclose(local.max(axis=1), 1.0, atol=1e-4) and (local <= 1 + 1e-4).all()
    sky = p[ids == len(surfaces)]
    assert np.allclose(np.linalg.norm(sky, axis=1), md.SKY_RADIUS, rtol=1e-4)


def test_mip_lookup_filters_to_the_texture_mean_when_minified(md):
    tex = md.textures(md.SEED)["tiles"]
    u = np.linspace(0.0, 4.0, 50, dtype=np.float32)
    sharp = md.sample(tex, u, u * 0.3, np.full(50, 1e-4, np.float32))
    blurred = md.sample(tex, u, u * 0.3, np.full(50, 1e3, np.float32))
    assert np.allclose(blurred, tex.levels[0].mean(axis=(0, 1), dtype=np.float64), atol=1e-5)
    assert sharp.std(axis=0).min() > 5 * blurred.std(axis=0).max()
    centre = (np.array([3.5, 100.5], np.float32)) / tex.texels_per_unit  # texel centres sample exactly
    assert np.allclose(md.sample(tex, centre, centre, np.full(2, 1e-5, np.float32)),
                       tex.levels[0][[3, 100], [3, 100]], atol=1e-5)


def test_committed_clip_and_fixture_come_from_this_renderer(md):
    """Guards against stale assets: frame 17 re-rendered matches the committed clip (codec loss only) and
    its depth matches the fixture."""
    av = pytest.importorskip("av")
    from av.video.reformatter import Interpolation

    if not (CLIP.is_file() and FIXTURE.is_file()):
        pytest.fail("demo assets missing: run `python resources/demo/make_demo.py`")
    spec, frame = md.ClipSpec(), 17
    with av.open(str(CLIP)) as container:
        for i, f in enumerate(container.decode(video=0)):
            if i == frame:
                exact = Interpolation.BICUBIC | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
                decoded = f.reformat(format="rgb24", interpolation=exact).to_ndarray().astype(np.float64)
                break
    cam = md.camera_at(spec, frame)
    rendered = md.render_frame(cam, spec.seed, spec.supersample).rgb
    psnr = 10 * np.log10(255**2 / ((decoded - rendered) ** 2).mean())
    assert psnr > 35, f"committed clip differs from the renderer (PSNR {psnr:.1f} dB): re-run make_demo.py"
    with np.load(FIXTURE) as z:
        stored = z["depth"][frame].astype(np.float32)
    depth, _ = md.trace_depth(cam.resized(spec.width // 2, spec.height // 2), spec.seed)
    assert np.allclose(stored, depth, rtol=1e-3)
