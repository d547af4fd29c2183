"""The layering cue's fused gradient magnitude is the numpy expression it replaced, bit for bit."""

import cv2
import numpy as np

from engine.depth.cues.layering import _gradient_magnitude, boundary_strength


def test_gradient_magnitude_is_numpys_float32_result():
    rng = np.random.default_rng(11)
    lab = cv2.GaussianBlur((rng.random((41, 67, 3)) * 100).astype(np.float32), (0, 0), 1.5)
    sx, sy = cv2.Sobel(lab, cv2.CV_32F, 1, 0), cv2.Sobel(lab, cv2.CV_32F, 0, 1)
    gx, gy = sx / 8.0, sy / 8.0
    want = np.sqrt((gx * gx + gy * gy).sum(axis=2))
    got = _gradient_magnitude(sx, sy)
    assert got.dtype == np.float32 and np.array_equal(got, want)


def test_boundary_strength_sees_an_edge_and_not_a_flat_image():
    rgb = np.full((30, 40, 3), 90, np.uint8)
    assert not boundary_strength(rgb).any()
    rgb[:, 20:] = (200, 40, 40)
    edge = boundary_strength(rgb, suppression=0.0)
    assert edge[:, 18:22].mean() > 10 * edge[:, :10].mean() + 1
