"""Depth export round trip through the real pipeline (CONVENTIONS.md "Files").

Convert with ``export_depth=DepthExportSpec(...)``, then convert again with the exported nearness as
``--depth-kind inverse`` (or the exported disparity as ``disparity-px``): the two lossless (FFV1)
masters must be pixel-identical (16-bit PNG nearness: within one code value).

Needs the pipeline to accept ``ConvertRequest.export_depth`` and call
:class:`engine.jobs.export_depth.DepthExporter` from the render pass; for the ``inverse`` re-import
to be exact whatever the depth, the pipeline must normalise an exported sequence with
:func:`engine.jobs.export_depth.reimport_range` instead of its percentiles.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from engine import api
from engine.jobs.export_depth import DepthExportSpec
from engine.media import probe
from tests.support.clips import HEIGHT, WIDTH, write_clip

FRAMES = 6


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("roundtrip") / "clip.mp4", frames=FRAMES)


def convert(clip: Path, out: Path, **kwargs) -> Path:
    request = api.ConvertRequest(input=clip, output=out, encode=api.EncodeSettings(codec="ffv1"),
                                 device="cpu", **kwargs)
    for _ in api.convert(request):
        pass
    return out


def frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)]).astype(np.int16)


def exported(folder: Path, clip: Path) -> dict:
    """depth.json of a finished export of the whole clip, checked against the clip."""
    manifest = json.loads((folder / "depth.json").read_text())
    assert manifest["schema"] == "DepthExport.1" and manifest["kind"] == "nearness"
    assert manifest["frame_range"] == [0, FRAMES]
    assert Fraction(manifest["fps"]) == probe(clip).video.fps
    assert manifest["source"]["eye_size"] == [WIDTH, HEIGHT]
    assert len(list(folder.glob(manifest["files"].replace("%06d", "*")))) == FRAMES
    assert not list(folder.glob(".*"))  # no temp files left
    return manifest


def test_weights_free_depth_exr_and_npy_disparity(clip, tmp_path):
    depth_dir, disp_dir = tmp_path / "depth", tmp_path / "disp"
    master = convert(clip, tmp_path / "a.mkv", export_depth=DepthExportSpec(depth_dir, "exr", disp_dir, "npy"))
    manifest = exported(depth_dir, clip)
    assert manifest["disparity"]["format"] == "npy"
    reference = frames(master)
    again = convert(clip, tmp_path / "b.mkv",
                    depth=api.ImportedDepthSpec(depth_dir / manifest["files"], "inverse"))
    np.testing.assert_array_equal(frames(again), reference)
    from_disparity = convert(clip, tmp_path / "c.mkv", depth=api.ImportedDepthSpec(
        disp_dir / manifest["disparity"]["files"], "disparity-px"))
    np.testing.assert_array_equal(frames(from_disparity), reference)


def test_tie_free_depth_npy_and_exr_disparity(clip, tmp_path):
    """Continuous depth without ties: re-normalising the nearness from its own percentiles would
    shift it; the exported range must be used as-is."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    rng = np.random.default_rng(1)
    raw = np.stack([1.0 + x / WIDTH + y / HEIGHT + 0.3 * np.sin(x / 5 + i) + 0.01 * rng.random((HEIGHT, WIDTH))
                    for i in range(FRAMES)]).astype(np.float32)
    np.save(tmp_path / "raw.npy", raw)
    folder = tmp_path / "export"
    master = convert(clip, tmp_path / "a.mkv", depth=api.ImportedDepthSpec(tmp_path / "raw.npy", "relative"),
                     export_depth=DepthExportSpec(folder, "npy", folder, "exr"))
    manifest = exported(folder, clip)
    reference = frames(master)
    again = convert(clip, tmp_path / "b.mkv", depth=api.ImportedDepthSpec(folder / manifest["files"], "inverse"))
    np.testing.assert_array_equal(frames(again), reference)
    from_disparity = convert(clip, tmp_path / "c.mkv", depth=api.ImportedDepthSpec(
        folder / manifest["disparity"]["files"], "disparity-px"))
    np.testing.assert_array_equal(frames(from_disparity), reference)


def test_png16_within_one_code_value(clip, tmp_path):
    folder = tmp_path / "png"
    master = convert(clip, tmp_path / "a.mkv", export_depth=DepthExportSpec(folder, "png16"))
    manifest = exported(folder, clip)
    assert manifest["disparity"] is None and manifest["unknown_pixels"] == 0
    again = convert(clip, tmp_path / "b.mkv", depth=api.ImportedDepthSpec(folder / manifest["files"], "inverse"))
    assert np.abs(frames(again) - frames(master)).max() <= 1


def test_cancelled_convert_leaves_no_export(clip, tmp_path):
    folder = tmp_path / "depth"
    token = api.CancelToken()
    request = api.ConvertRequest(input=clip, output=tmp_path / "a.mkv", encode=api.EncodeSettings(codec="ffv1"),
                                 device="cpu", export_depth=DepthExportSpec(folder, "exr"))
    with pytest.raises(api.Cancelled):
        for progress in api.convert(request, cancel=token):
            if progress.stage == "render" and progress.done == 2:
                token.cancel()
    assert not folder.exists() or not list(folder.iterdir())
    assert not (tmp_path / "a.mkv").exists()
