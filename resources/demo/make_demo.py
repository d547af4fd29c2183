"""Render SpatialDreamer Studio's bundled demo clip and its ground-truth depth with our own ray caster.

Run from anywhere (paths are resolved from this file)::

    python resources/demo/make_demo.py     # writes demo.mp4 beside this file + tests/fixtures/demo_depth.npz

The scene: a stone path through a meadow recedes to a forest ridge, mountains and a cloudy sky; textured
spheres and boxes stand at 3-24 m, lit by a low sun with soft shadows and contact occlusion. The camera trucks
right and dollies forward (half eased), so near objects slide across farther ones (parallax, disocclusions).

World frame: metres, x right, y up, z forward (the camera looks along +z); the ground is y = 0. Camera rays
are scaled so their camera-space Z component is 1, so a ray parameter t *is* the metric depth Z of the hit.
Only numpy is used to render (deterministic for a seed); PyAV encodes (H.264 + AAC, BT.709 tagged).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

DT = np.float32
SEED = 20240611
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SKY_RADIUS = 1000.0
SUN_DIR = np.array([-0.80, 0.55, -0.22], DT) / np.linalg.norm([-0.80, 0.55, -0.22])
SUN_RGB = np.array([2.9, 2.65, 2.25], DT)
AMBIENT_RGB = np.array([0.42, 0.52, 0.70], DT)
FOG_RGB = np.array([0.56, 0.66, 0.80], DT)
FOG_METRES = 420.0
AUDIO_RATE = 48000


@dataclass(frozen=True)
class ClipSpec:
    """Size, timing, lens and sampling of the clip; the depth fixture is `depth_downsample` times smaller."""

    width: int = 640
    height: int = 360
    fps: Fraction = Fraction(24)
    n_frames: int = 72
    hfov_deg: float = 60.0
    supersample: int = 2
    depth_downsample: int = 2
    seed: int = SEED


# ----------------------------------------------------------------------------------------------- camera
@dataclass(frozen=True, eq=False)
class Camera:
    """Pinhole camera without roll; pixel (x, y) spans [x, x+1) x [y, y+1), y down, principal point centred.

    position, right, up, forward: (3,) float32 world vectors (orthonormal); focal_px: for this `width`.
    """

    position: np.ndarray
    right: np.ndarray
    up: np.ndarray
    forward: np.ndarray
    focal_px: float
    width: int
    height: int

    def rays(self, ox: float = 0.5, oy: float = 0.5) -> np.ndarray:
        """Directions through every pixel at sub-pixel offset (ox, oy).

        Returns:
            (H*W, 3) float32 world directions whose component along `forward` is 1 (so ray t = depth Z).
        """
        xs = ((np.arange(self.width, dtype=DT) + ox - self.width / 2) / self.focal_px)[None, :, None]
        ys = ((np.arange(self.height, dtype=DT) + oy - self.height / 2) / self.focal_px)[:, None, None]
        d = self.forward + xs * self.right - ys * self.up
        return d.reshape(-1, 3).astype(DT)

    def resized(self, width: int, height: int) -> Camera:
        """The same camera imaged at another resolution (focal length scales with width)."""
        return replace(self, width=width, height=height, focal_px=self.focal_px * width / self.width)


def camera_at(spec: ClipSpec, frame: int) -> Camera:
    """Camera of `frame`: 1.0 m truck right and 0.6 m dolly in, half eased (it never stops, so every frame has
    parallax); 1.55 m high, tilted 5 deg down."""
    s = frame / max(spec.n_frames - 1, 1)
    ease = 0.5 * s + 0.5 * (0.5 - 0.5 * np.cos(np.pi * s))
    pitch = np.radians(5.0)
    position = np.array([-0.5 + 1.0 * ease, 1.55, 0.6 * ease], DT)
    forward = np.array([0.0, -np.sin(pitch), np.cos(pitch)], DT)
    up = np.array([0.0, np.cos(pitch), np.sin(pitch)], DT)
    right = np.array([1.0, 0.0, 0.0], DT)
    focal = spec.width / 2 / np.tan(np.radians(spec.hfov_deg) / 2)
    return Camera(position, right, up, forward, float(focal), spec.width, spec.height)


# ----------------------------------------------------------------------------------------------- textures
@dataclass(frozen=True, eq=False)
class Texture:
    """Tileable RGB texture with its mip pyramid: levels[k] is (S/2^k, S/2^k, 3) float32 linear albedo."""

    levels: tuple[np.ndarray, ...]
    texels_per_unit: float


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    x = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _noise(rng: np.random.Generator, size: int, beta: float, stretch: tuple[float, float] = (1.0, 1.0)):
    """Tileable 1/f^beta noise: (size, size) float32 in [0, 1] (1-99 percentile normalised).

    stretch (sx, sy) > 1 elongates features along that axis (wood grain, rock streaks).
    """
    fy = np.fft.fftfreq(size)[:, None] * size / stretch[1]
    fx = np.fft.rfftfreq(size)[None, :] * size / stretch[0]
    f = np.hypot(fx, fy)
    f[0, 0] = 1.0
    spectrum = np.fft.rfft2(rng.standard_normal((size, size))) / f**beta
    spectrum[0, 0] = 0.0
    n = np.fft.irfft2(spectrum, s=(size, size))
    lo, hi = np.percentile(n, [1, 99])
    return np.clip((n - lo) / (hi - lo), 0.0, 1.0).astype(DT)


def _lerp(a, b, w: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, DT), np.asarray(b, DT)
    return a + (b - a) * w[..., None]


def _mipmap(image: np.ndarray, texels_per_unit: float) -> Texture:
    """Box-filter a (S, S, 3) power-of-two tile down to 1x1."""
    levels = [image.astype(DT)]
    while levels[-1].shape[0] > 1:
        a = levels[-1]
        levels.append(0.25 * (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]))
    return Texture(tuple(levels), texels_per_unit)


def _grass(rng):
    n1, n2, n3 = _noise(rng, 1024, 1.1), _noise(rng, 1024, 2.2), _noise(rng, 1024, 0.3)
    col = _lerp((0.035, 0.085, 0.018), (0.15, 0.26, 0.045), n1)
    col = _lerp(col, (0.27, 0.23, 0.09), 0.55 * _smoothstep(0.55, 0.9, n2))
    return _mipmap(col * (0.75 + 0.5 * n3)[..., None], 1024 / 8.0)


def _tiles(rng):
    """8 x 8 stones of 0.5 m in running bond, grout lines and bevelled edges; 4 m period."""
    y, x = np.mgrid[0:1024, 0:1024]
    row = y // 128
    xs = (x + (row % 2) * 64) % 1024
    tint = rng.uniform(0.7, 1.2, (8, 8)).astype(DT)[row, xs // 128]
    warm = rng.uniform(-0.05, 0.05, (8, 8)).astype(DT)[row, xs // 128]
    fx, fy = xs % 128, y % 128
    edge = np.minimum(np.minimum(fx, 127 - fx), np.minimum(fy, 127 - fy)).astype(DT)
    detail = 0.7 + 0.6 * _noise(rng, 1024, 1.0)
    stone = np.stack([0.34 + warm, 0.30 + 0.3 * warm, 0.26 - warm], -1) * (tint * detail)[..., None]
    stone *= (0.8 + 0.2 * _smoothstep(3, 14, edge))[..., None]
    return _mipmap(_lerp((0.05, 0.045, 0.04), stone, _smoothstep(2, 5, edge)), 1024 / 4.0)


def _wood(rng):
    """Crate planks (5 per metre) with grain and dark gaps; 1 m period."""
    y = np.mgrid[0:512, 0:512][0].astype(DT)
    plank = (y // (512 / 5)).astype(int)
    grain = 0.5 + 0.5 * np.sin(2 * np.pi * y / 512 * 40 + 9 * _noise(rng, 512, 1.5, (8.0, 1.0)))
    tone = rng.uniform(0.75, 1.2, 5).astype(DT)[plank]
    col = (
        _lerp((0.16, 0.075, 0.03), (0.42, 0.25, 0.11), 0.6 * grain + 0.4 * _noise(rng, 512, 0.8))
        * tone[..., None]
    )
    gap = _smoothstep(2, 6, np.minimum(y % (512 / 5), 512 / 5 - y % (512 / 5)))
    return _mipmap(col * (0.15 + 0.85 * gap)[..., None], 512.0)


def _brick(rng):
    """Bricks 0.25 m x 2/24 m in running bond with mortar; 2 m period."""
    y, x = np.mgrid[0:512, 0:512].astype(DT)
    bh = 512 / 24
    row = (y // bh).astype(int)
    xs = (x + (row % 2) * 32) % 512
    tone = rng.uniform(0.7, 1.25, (24, 8)).astype(DT)[row, (xs // 64).astype(int)]
    edge = np.minimum(np.minimum(xs % 64, 64 - xs % 64), np.minimum(y % bh, bh - y % bh))
    col = _lerp((0.22, 0.07, 0.04), (0.42, 0.15, 0.08), _noise(rng, 512, 1.0)) * tone[..., None]
    return _mipmap(_lerp((0.36, 0.34, 0.30), col, _smoothstep(1.0, 3.0, edge)), 256.0)


def _marble(rng):
    y, x = np.mgrid[0:512, 0:512].astype(DT)
    v = np.abs(np.sin(2 * np.pi * (x + 0.5 * y) / 512 * 3 + 6 * _noise(rng, 512, 2.0)))
    vein = 1 - _smoothstep(0.0, 0.1, v)
    col = _lerp((0.70, 0.68, 0.64), (0.40, 0.04, 0.03), vein) * (0.9 + 0.2 * _noise(rng, 512, 0.7))[..., None]
    return _mipmap(col, 512 / 2.0)


def _forest(rng):
    crowns = _smoothstep(0.3, 0.8, _noise(rng, 512, 1.3))
    col = _lerp((0.012, 0.03, 0.012), (0.06, 0.12, 0.035), crowns)
    return _mipmap(col * (0.8 + 0.4 * _noise(rng, 512, 0.5))[..., None], 512 / 32.0)


def _rock(rng):
    n = _noise(rng, 512, 1.7, (1.0, 4.0))
    return _mipmap(_lerp((0.09, 0.10, 0.13), (0.36, 0.37, 0.40), n), 512 / 256.0)


def _clouds(rng):
    n = _noise(rng, 512, 2.3)
    return _mipmap(np.repeat(n[..., None], 3, -1), 512 / 6000.0)


@lru_cache(maxsize=4)
def textures(seed: int) -> dict[str, Texture]:
    """Every texture of the scene, generated from `seed` (about a second; cached per process)."""
    rng = np.random.default_rng(seed)
    makers = {
        "grass": _grass,
        "tiles": _tiles,
        "wood": _wood,
        "brick": _brick,
        "marble": _marble,
        "forest": _forest,
        "rock": _rock,
        "clouds": _clouds,
    }
    return {name: make(rng) for name, make in makers.items()}


def _bilinear(level: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Wrap-around bilinear lookup at texel coordinates (N,) -> (N, 3)."""
    size = level.shape[0]
    flat = level.reshape(-1, 3)
    x, y = x - 0.5, y - 0.5
    x0, y0 = np.floor(x), np.floor(y)
    wx, wy = (x - x0)[:, None], (y - y0)[:, None]
    i0, j0 = x0.astype(np.int64) % size, y0.astype(np.int64) % size
    i1, j1 = (i0 + 1) % size, (j0 + 1) % size
    top = flat[j0 * size + i0] * (1 - wx) + flat[j0 * size + i1] * wx
    bottom = flat[j1 * size + i0] * (1 - wx) + flat[j1 * size + i1] * wx
    return top * (1 - wy) + bottom * wy


def sample(tex: Texture, u: np.ndarray, v: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Trilinear (mip-mapped) texture lookup.

    Args:
        tex: the texture.
        u, v: (N,) coordinates in the texture's units (metres for surfaces).
        footprint: (N,) size of one sample on the surface, same units (picks the mip level).
    Returns:
        (N, 3) float32 linear albedo.
    """
    lod = np.clip(np.log2(np.maximum(footprint * tex.texels_per_unit, 1e-6)), 0, len(tex.levels) - 1)
    base = np.floor(lod).astype(np.int64)
    out = np.empty((u.shape[0], 3), DT)
    for k in np.unique(base):
        idx = np.nonzero(base == k)[0]
        scale = tex.texels_per_unit / 2.0**k
        a = _bilinear(tex.levels[k], u[idx] * scale, v[idx] * scale)
        if k + 1 < len(tex.levels):
            b = _bilinear(tex.levels[k + 1], u[idx] * scale / 2, v[idx] * scale / 2)
            a += (b - a) * (lod[idx] - k)[:, None]
        out[idx] = a
    return out


# ----------------------------------------------------------------------------------------------- geometry
@dataclass(frozen=True, eq=False)
class Sphere:
    center: np.ndarray
    radius: float
    material: str


@dataclass(frozen=True, eq=False)
class Box:
    """Box of half extents `half` (3,), turned `yaw_deg` about the vertical axis through `center`."""

    center: np.ndarray
    half: np.ndarray
    yaw_deg: float
    material: str

    @property
    def rotation(self) -> np.ndarray:
        """(3, 3) local -> world rotation (columns are the local axes in world)."""
        c, s = np.cos(np.radians(self.yaw_deg)), np.sin(np.radians(self.yaw_deg))
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], DT)


@dataclass(frozen=True, eq=False)
class Ridge:
    """Vertical backdrop plane z = `z` whose top edge is y = base + sum(a sin(f x + phase))."""

    z: float
    base: float
    waves: np.ndarray  # (K, 3): amplitude, frequency (rad/m), phase
    material: str

    def height(self, x: np.ndarray) -> np.ndarray:
        a, f, p = self.waves[:, 0], self.waves[:, 1], self.waves[:, 2]
        return self.base + (a * np.sin(x[:, None] * f + p)).sum(-1)


def _v(*xs: float) -> np.ndarray:
    return np.array(xs, DT)


@lru_cache(maxsize=4)
def scene(seed: int) -> tuple:
    """Surfaces in id order: 0 ground, 1-2 ridges, then objects; id len(scene) is the sky."""
    rng = np.random.default_rng(seed + 1)

    def waves(amps, freqs):
        return np.array([(a, f, rng.uniform(0, 2 * np.pi)) for a, f in zip(amps, freqs, strict=True)], DT)

    return (
        "ground",
        Ridge(70.0, 5.0, waves((2.0, 1.1, 0.45, 0.2), (0.05, 0.13, 0.41, 1.3)), "forest"),
        Ridge(240.0, 34.0, waves((15.0, 6.0, 2.5, 1.0), (0.011, 0.029, 0.08, 0.23)), "rock"),
        Sphere(_v(0.35, 0.55, 4.3), 0.55, "marble"),
        Box(_v(1.0, 0.5, 7.0), _v(0.5, 0.5, 0.5), 28.0, "wood"),
        Sphere(_v(-1.3, 1.0, 9.5), 1.0, "beachball"),
        Box(_v(-3.2, 1.6, 13.0), _v(0.45, 1.6, 0.45), -12.0, "brick"),
        Sphere(_v(0.6, 0.35, 12.5), 0.35, "gold"),
        Box(_v(4.2, 0.6, 18.0), _v(2.2, 0.6, 0.3), -15.0, "brick"),
        Sphere(_v(-7.5, 1.3, 24.0), 1.3, "moss"),
        Box(_v(1.6, 0.35, 3.2), _v(0.3, 0.35, 0.3), 40.0, "wood"),
    )


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot product over the last axis of (..., 3) arrays (component-wise: much faster than a reduction)."""
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def _norm(a: np.ndarray, keepdims: bool = False) -> np.ndarray:
    n = np.sqrt(_dot(a, a))
    return n[..., None] if keepdims else n


def hit(surface, o: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Ray parameter of the first hit in front of the origin, inf where missed.

    Args:
        surface: "ground", a Ridge, a Sphere or a Box.
        o: (3,) or (N, 3) ray origins; d: (3,) or (N, 3) directions (any length); one of them (N, 3).
    Returns:
        (N,) float32 t, hit point o + t d.
    """
    n = np.broadcast_shapes(o.shape, d.shape)[0]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if isinstance(surface, str):
            t = -o[..., 1] / d[..., 1]
            return np.where((d[..., 1] < 0) & (t > 0), t, np.inf).astype(DT)
        if isinstance(surface, Ridge):
            t = (surface.z - o[..., 2]) / d[..., 2]
            y = o[..., 1] + t * d[..., 1]
            top = surface.base + np.abs(surface.waves[:, 0]).sum()
            idx = np.nonzero((d[..., 2] > 0) & (t > 0) & (y >= 0) & (y <= top))[0]
            x = (o[..., 0] + t * d[..., 0])[idx]
            out = np.full(n, np.inf, DT)
            out[idx] = np.where(y[idx] <= surface.height(x), t[idx], np.inf)
            return out
        if isinstance(surface, Sphere):
            oc = o - surface.center
            a, b = _dot(d, d), _dot(oc, d)
            disc = b * b - a * (_dot(oc, oc) - surface.radius**2)
            t = (-b - np.sqrt(np.maximum(disc, 0))) / a
            return np.where((disc > 0) & (t > 1e-4), t, np.inf).astype(DT)
        near, far = np.full(n, -np.inf, DT), np.full(n, np.inf, DT)
        for axis, half in zip(
            surface.rotation.T, surface.half, strict=True
        ):  # slabs, one local axis at a time
            oa, da = _dot(o - surface.center, axis), _dot(d, axis)
            t1, t2 = (-half - oa) / da, (half - oa) / da
            near, far = np.fmax(near, np.fmin(t1, t2)), np.fmin(far, np.fmax(t1, t2))
        return np.where((far >= near) & (near > 1e-4), near, np.inf).astype(DT)


def trace(surfaces: tuple, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest hit among all surfaces, else the sky dome.

    Returns:
        t (N,) float32 (finite everywhere; with unit-Z rays it is the depth Z) and ids (N,) int8.
    """
    best = np.full(d.shape[0], np.inf, DT)
    ids = np.full(d.shape[0], len(surfaces), np.int8)
    for k, surface in enumerate(surfaces):
        t = hit(surface, o, d)
        closer = t < best
        best[closer], ids[closer] = t[closer], k
    sky = np.isinf(best)
    if sky.any():
        ds = d[sky]
        os_ = o if o.ndim == 1 else o[sky]
        a, b, c = _dot(ds, ds), _dot(ds, os_), _dot(os_, os_) - SKY_RADIUS**2
        best[sky] = (-b + np.sqrt(b * b - a * c)) / a
    return best, ids


def normals(surface, p: np.ndarray) -> np.ndarray:
    """(N, 3) unit outward normals at points p (N, 3) on `surface`."""
    if isinstance(surface, str):
        return np.broadcast_to(_v(0, 1, 0), p.shape)
    if isinstance(surface, Ridge):
        return np.broadcast_to(_v(0, 0, -1), p.shape)
    if isinstance(surface, Sphere):
        return (p - surface.center) / surface.radius
    rot = surface.rotation
    q = ((p - surface.center) @ rot) / surface.half
    axis = np.abs(q).argmax(-1)
    local = np.zeros_like(q)
    local[np.arange(len(q)), axis] = np.sign(q[np.arange(len(q)), axis])
    return local @ rot.T


# ----------------------------------------------------------------------------------------------- shading
def footprint(t, d, n, ex, ey, spacing: float) -> np.ndarray:
    """Size on the surface (tangent plane) of one sample: ray differentials, anisotropy capped at 3.

    Args:
        t: (N,) ray parameters; d: (N, 3) directions; n: (N, 3) normals.
        ex, ey: (3,) change of d per pixel in x and y; spacing: sample spacing in pixels.
    """
    nd = _dot(n, d)
    nd = np.where(np.abs(nd) < 1e-4, 1e-4, nd)[:, None]
    dx = t * _norm(ex - d * (n @ ex)[:, None] / nd)
    dy = t * _norm(ey - d * (n @ ey)[:, None] / nd)
    major, minor = np.maximum(dx, dy), np.minimum(dx, dy)
    return spacing * np.maximum(major / 3.0, minor)


def _sphere_uv(surface: Sphere, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.arctan2(n[:, 0], n[:, 2]), np.arcsin(np.clip(n[:, 1], -1, 1))
    return lon * surface.radius, lat * surface.radius


def _box_uv(surface: Box, p: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q = (p - surface.center) @ surface.rotation + surface.half
    nl = np.abs(n @ surface.rotation)
    side = nl[:, 0] > 0.5
    u = np.where(side, q[:, 2], q[:, 0])
    v = np.where(nl[:, 1] > 0.5, q[:, 2], q[:, 1])
    return u, v


def albedo(surface, p, n, fp, tex: dict[str, Texture]) -> tuple[np.ndarray, float]:
    """Linear albedo (N, 3) and specular strength of `surface` at points p, normals n, footprints fp."""
    if isinstance(surface, str):
        grass = sample(tex["grass"], p[:, 0], p[:, 2], fp)
        stones = sample(tex["tiles"], p[:, 0] + 1.0, p[:, 2], fp)
        wobble = 0.12 * np.sin(p[:, 2] * 1.7) + 0.06 * np.sin(p[:, 2] * 4.3 + 1.0)
        on_path = _smoothstep(fp, -fp, np.abs(p[:, 0] - 0.1) - 1.0 - wobble)
        return grass + (stones - grass) * on_path[:, None], 0.0
    if isinstance(surface, Ridge):
        col = sample(tex[surface.material], p[:, 0], p[:, 1], fp)
        if surface.material == "rock":
            snow = _smoothstep(36.0, 44.0, p[:, 1] + 6.0 * (col[:, 0] - 0.3) / 0.1)
            col = col + (np.asarray((0.85, 0.87, 0.9), DT) - col) * snow[:, None]
        return col, 0.0
    if isinstance(surface, Box):
        u, v = _box_uv(surface, p, n)
        return sample(tex[surface.material], u, v, fp), 0.05
    u, v = _sphere_uv(surface, n)
    if surface.material == "beachball":
        palette = np.array([(0.7, 0.05, 0.03), (0.75, 0.6, 0.02), (0.03, 0.2, 0.6), (0.75, 0.75, 0.72)], DT)
        seg = np.floor((np.arctan2(n[:, 0], n[:, 2]) / (2 * np.pi) + 0.5) * 8).astype(np.int64) % 4
        cap = np.abs(n[:, 1]) > 0.93
        return np.where(cap[:, None], palette[3], palette[seg]), 0.35
    if surface.material == "gold":
        return np.broadcast_to(_v(0.6, 0.42, 0.08), p.shape) * (
            0.8 + 0.2 * sample(tex["rock"], u, v, fp)
        ), 0.6
    if surface.material == "moss":
        return 0.7 * sample(tex["grass"], u, v, fp) + 0.3 * sample(tex["rock"], u * 50, v * 50, fp * 50), 0.0
    return sample(tex[surface.material], u, v, fp), 0.3


def _occluders(surfaces: tuple) -> list:
    return [s for s in surfaces if isinstance(s, Sphere | Box)]


def sun_visibility(surfaces: tuple, p: np.ndarray, n: np.ndarray, light: np.ndarray) -> np.ndarray:
    """(N,) 1 where the sun (direction `light`) is visible from p (offset along n), else 0."""
    lit = (n @ light > 0).astype(DT)
    idx = np.nonzero(lit)[0]
    o = p[idx] + 1e-3 * n[idx]
    for s in _occluders(surfaces):
        lit[idx[np.isfinite(hit(s, o, light))]] = 0.0
    return lit


def ambient_occlusion(surfaces: tuple, p: np.ndarray, n: np.ndarray) -> np.ndarray:
    """(N,) analytic sphere occlusion (boxes as their volume-equivalent spheres), 1 = open sky."""
    ao = np.ones(p.shape[0], DT)
    for s in _occluders(surfaces):
        r = s.radius if isinstance(s, Sphere) else 1.2 * float(np.prod(s.half)) ** (1 / 3)
        to_c = s.center - p
        dist = _norm(to_c)
        cos = np.clip(_dot(n, to_c) / dist, 0, 1)
        ao *= 1 - cos * np.minimum((r / dist) ** 2, 1)
    return ao


def sky_radiance(d: np.ndarray, cam: Camera, tex: dict[str, Texture], spacing: float) -> np.ndarray:
    """(N, 3) sky along directions d: horizon-to-zenith gradient, sun glow, clouds on a plane 1.5 km up."""
    u = d / _norm(d, keepdims=True)
    el = np.clip(u[:, 1], 0, 1)
    col = _lerp((0.56, 0.66, 0.80), (0.10, 0.25, 0.62), _smoothstep(0.0, 0.45, el) ** 0.7)
    col += (np.maximum(u @ SUN_DIR, 0) ** 12 * 0.35)[:, None] * _v(1.0, 0.85, 0.6)
    up = np.maximum(d[:, 1], 1e-3)
    t = 1500.0 / up
    n = np.broadcast_to(_v(0, -1, 0), d.shape)
    fp = footprint(t, d, n, cam.right / cam.focal_px, -cam.up / cam.focal_px, spacing)
    cloud = sample(tex["clouds"], d[:, 0] * t, d[:, 2] * t, fp)[:, 0]
    cover = _smoothstep(0.55, 0.85, cloud) * _smoothstep(0.02, 0.2, el)
    return col + (_v(0.95, 0.95, 0.97) * (0.85 + 0.25 * cloud)[:, None] - col) * cover[:, None]


def shade(surfaces, cam: Camera, d, t, ids, light, tex, spacing: float) -> np.ndarray:
    """(N, 3) linear radiance of primary rays d (N, 3) that hit `ids` at parameters t."""
    out = np.empty(d.shape, DT)
    sky = ids == len(surfaces)
    out[sky] = sky_radiance(d[sky], cam, tex, spacing)
    ex, ey = cam.right / cam.focal_px, -cam.up / cam.focal_px
    for k, surface in enumerate(surfaces):
        idx = np.nonzero(ids == k)[0]
        if idx.size == 0:
            continue
        dk, tk = d[idx], t[idx]
        p = cam.position + tk[:, None] * dk
        n = normals(surface, p)
        col, spec = albedo(surface, p, n, footprint(tk, dk, n, ex, ey, spacing), tex)
        if isinstance(surface, Ridge):
            vis, ao = np.ones(idx.size, DT), np.ones(idx.size, DT)
            diffuse = np.full(idx.size, 0.55, DT)
        else:
            vis, ao = sun_visibility(surfaces, p, n, light), ambient_occlusion(surfaces, p, n)
            diffuse = np.maximum(n @ light, 0)
        rad = col * (
            SUN_RGB * (diffuse * vis)[:, None] + AMBIENT_RGB * ((0.55 + 0.45 * n[:, 1]) * ao)[:, None]
        )
        if spec:
            half = light - dk / _norm(dk, keepdims=True)
            half /= _norm(half, keepdims=True)
            rad += (spec * np.maximum(_dot(n, half), 0) ** 48 * vis)[:, None] * SUN_RGB
        fog = np.exp(-tk * _norm(dk) / FOG_METRES)[:, None]
        out[idx] = rad * fog + FOG_RGB * (1 - fog)
    return out


def _tonemap(x: np.ndarray) -> np.ndarray:
    """Filmic curve (Narkowicz ACES fit) -> display-linear [0, 1]."""
    x = 0.8 * x
    return np.clip(x * (2.51 * x + 0.03) / (x * (2.43 * x + 0.59) + 0.14), 0, 1)


def _sun_jitter(k: int, count: int) -> np.ndarray:
    """Sun direction for sub-sample k of `count`: points on a 2 deg disc around SUN_DIR (soft shadows)."""
    if count == 1:
        return SUN_DIR
    a = np.cross(SUN_DIR, _v(0, 1, 0))
    a /= np.linalg.norm(a)
    b = np.cross(SUN_DIR, a)
    ang = 2 * np.pi * (k + 0.5) / count
    jittered = SUN_DIR + 0.035 * (np.cos(ang) * a + np.sin(ang) * b)
    return (jittered / np.linalg.norm(jittered)).astype(DT)


@dataclass(frozen=True, eq=False)
class Render:
    """rgb: (H, W, 3) uint8 display-referred; depth: (H, W) float32 Z at pixel centres; ids: (H, W) int8."""

    rgb: np.ndarray
    depth: np.ndarray
    ids: np.ndarray


def trace_depth(cam: Camera, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Point-sampled ground truth at pixel centres: depth Z (H, W) float32 > 0 and surface ids (H, W) int8."""
    t, ids = trace(scene(seed), cam.position, cam.rays())
    return t.reshape(cam.height, cam.width), ids.reshape(cam.height, cam.width)


def render_frame(cam: Camera, seed: int = SEED, supersample: int = 2) -> Render:
    """Ray-cast one frame with supersample x supersample samples per pixel (each with its own sun jitter)."""
    surfaces, tex = scene(seed), textures(seed)
    acc = np.zeros((cam.height * cam.width, 3), DT)
    count = supersample * supersample
    for k in range(count):
        ox, oy = (k % supersample + 0.5) / supersample, (k // supersample + 0.5) / supersample
        d = cam.rays(ox, oy)
        t, ids = trace(surfaces, cam.position, d)
        acc += _tonemap(shade(surfaces, cam, d, t, ids, _sun_jitter(k, count), tex, 1 / supersample))
    img = (acc / count).reshape(cam.height, cam.width, 3)
    yy, xx = np.mgrid[0 : cam.height, 0 : cam.width]
    r2 = ((xx - cam.width / 2) ** 2 + (yy - cam.height / 2) ** 2) / (cam.width / 2) ** 2
    img *= (1 - 0.18 * r2)[..., None]
    rgb = np.round(np.clip(img, 0, 1) ** (1 / 2.2) * 255).astype(np.uint8)
    depth, ids = trace_depth(cam, seed)
    return Render(rgb, depth, ids)


# ----------------------------------------------------------------------------------------------- audio
def soundtrack(seconds: float, rate: int = AUDIO_RATE) -> np.ndarray:
    """(2, N) float32 stereo: A-major pad (detuned per channel), 880 Hz pings at 1 s and 2 s (sync marks)."""
    seconds = float(seconds)
    t = np.arange(round(seconds * rate)) / rate
    env = _smoothstep(0.0, 0.25, t) * _smoothstep(seconds, seconds - 0.4, t)
    out = np.zeros((2, t.size))
    for ch, detune in enumerate((1.0, 1.003)):
        for f, a in ((220.0, 0.10), (277.18, 0.07), (329.63, 0.07), (440.0, 0.04)):
            out[ch] += a * np.sin(2 * np.pi * f * detune * t) * (1 + 0.15 * np.sin(2 * np.pi * 0.7 * t + ch))
    for start in (1.0, 2.0):
        tt = np.clip(t - start, 0, None)
        out += 0.15 * np.sin(2 * np.pi * 880.0 * tt) * np.exp(-tt / 0.12) * (t >= start)
    return (out * env).astype(np.float32)


# ----------------------------------------------------------------------------------------------- outputs
def _render_job(args: tuple[ClipSpec, int]) -> tuple[np.ndarray, np.ndarray]:
    spec, frame = args
    cam = camera_at(spec, frame)
    rgb = render_frame(cam, spec.seed, spec.supersample).rgb
    small = cam.resized(spec.width // spec.depth_downsample, spec.height // spec.depth_downsample)
    return rgb, trace_depth(small, spec.seed)[0]


def encode(path: Path, frames, spec: ClipSpec, audio: np.ndarray) -> None:
    """Write H.264 (yuv420p, BT.709 limited range, CRF 19, preset slow, 1 s GOP) + stereo AAC, atomically."""
    import av
    from av.video.reformatter import Interpolation

    chroma = (
        Interpolation.AREA | Interpolation.ACCURATE_RND
    )  # unbiased 4:2:0 chroma (area average, exact rounding)
    tmp = path.with_name(path.name + ".partial")
    bt709 = {"color_primaries": 1, "color_trc": 1, "colorspace": 1, "color_range": 1}
    with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        gop = round(spec.fps)
        x264 = {"crf": "19", "preset": "slow", "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
        video = out.add_stream("libx264", rate=spec.fps, options=x264)
        video.width, video.height, video.pix_fmt = spec.width, spec.height, "yuv420p"
        for key, value in bt709.items():
            setattr(video.codec_context, key, value)
        sound = out.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
        sound.codec_context.bit_rate = 128_000
        sent = 0
        for i, rgb in enumerate(frames):
            yuv = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
                format="yuv420p",
                dst_colorspace="itu709",
                dst_color_range="MPEG",
                dst_color_trc=1,
                dst_color_primaries=1,
                interpolation=chroma,
            )
            yuv.pts = i
            out.mux(video.encode(yuv))
            until = min(audio.shape[1], round((i + 1) / spec.fps * AUDIO_RATE))
            while until - sent >= 1024 or (i == spec.n_frames - 1 and sent < until):
                chunk = np.ascontiguousarray(audio[:, sent : min(sent + 1024, until)])
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                frame.sample_rate, frame.pts = AUDIO_RATE, sent
                out.mux(sound.encode(frame))
                sent += chunk.shape[1]
        out.mux(video.encode(None))
        out.mux(sound.encode(None))
    os.replace(tmp, path)


def save_fixture(path: Path, spec: ClipSpec, depths: list[np.ndarray]) -> None:
    """Write the depth fixture (float16 Z per frame + camera poses and intrinsics) atomically."""
    cams = [camera_at(spec, i) for i in range(spec.n_frames)]
    s = spec.depth_downsample
    note = (
        "No stereo pair was rendered: 'depth' is metric camera-space Z in metres of a mono camera, "
        f"point-sampled (no edge blending). depth[i, r, c] is the ray through video image point (x, y) = "
        f"({s}c + {s / 2:g}, {s}r + {s / 2:g}) of frame i (video pixel x spans [x, x+1)), i.e. the centre of "
        f"a {s}x{s} block. Ray: cam_forward + (x - cx)/focal_px * cam_right - (y - cy)/focal_px * cam_up, "
        "hit at cam_pos + Z * ray. For a parallel rig of interaxial b metres the left-right disparity in "
        "video pixels is focal_px * b / Z (before any convergence shift). World: metres, x right, y up, "
        "z forward, ground y = 0; the sky is a "
        f"dome of radius {SKY_RADIUS:g} m around the origin."
    )
    tmp = path.with_name(path.name + ".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "wb") as fh:
        np.savez_compressed(
            fh,
            depth=np.stack(depths).astype(np.float16),
            fps_num=spec.fps.numerator,
            fps_den=spec.fps.denominator,
            width=spec.width,
            height=spec.height,
            focal_px=cams[0].focal_px,
            cx=spec.width / 2,
            cy=spec.height / 2,
            depth_downsample=spec.depth_downsample,
            seed=spec.seed,
            baseline_note=np.str_(note),
            cam_pos=np.stack([c.position for c in cams]),
            cam_forward=np.stack([c.forward for c in cams]),
            cam_right=np.stack([c.right for c in cams]),
            cam_up=np.stack([c.up for c in cams]),
        )
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=HERE / "demo.mp4")
    parser.add_argument("--fixture", type=Path, default=REPO / "tests" / "fixtures" / "demo_depth.npz")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    spec = ClipSpec()
    start = time.perf_counter()
    depths: list[np.ndarray] = []

    def frames():
        jobs = [(spec, i) for i in range(spec.n_frames)]
        with ProcessPoolExecutor(args.workers) as pool:
            for i, (rgb, depth) in enumerate(pool.map(_render_job, jobs)):
                depths.append(depth)
                print(f"\rframe {i + 1}/{spec.n_frames}", end="", file=sys.stderr, flush=True)
                yield rgb

    encode(args.video, frames(), spec, soundtrack(spec.n_frames / spec.fps))
    save_fixture(args.fixture, spec, depths)
    print(
        f"\n{args.video} {args.video.stat().st_size / 1e6:.2f} MB, {args.fixture} "
        f"{args.fixture.stat().st_size / 1e6:.2f} MB, {time.perf_counter() - start:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
