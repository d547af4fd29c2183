"""engine.jobs.export_depth: files, manifest, atomicity, errors, and the re-import round trip per frame."""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine import api
from engine.depth.imported import ImportedDepth
from engine.depth.normalise import ShotNormaliser
from engine.document import StereoParams
from engine.errors import InvalidProject, OutputError, UsageError
from engine.jobs.export_depth import (
    SCHEMA,
    ZERO_DISPARITY,
    DepthExporter,
    DepthExportSpec,
    disparity_for_file,
    nearness,
    nearness_to_png16,
    read_manifest,
    reimport_range,
)
from engine.media.exr import read_exr
from engine.ops import disparity_from_grade
from tests.support.clips import coded_image

W, H = 24, 16
PARAMS = StereoParams(3.0, 1.0 / 3.0)


def deltas(count: int = 3, seed: int = 0) -> list[np.ndarray]:
    """Tie-free δ maps in [0, 1] with a few unknown pixels (NaN) and exact 0 and 1."""
    rng = np.random.default_rng(seed)
    maps = []
    for _ in range(count):
        delta = rng.random((H, W), dtype=np.float32)
        delta[0, :3] = [np.nan, 0.0, 1.0]
        maps.append(delta)
    return maps


def graded(delta: np.ndarray) -> np.ndarray:
    import torch

    return disparity_from_grade(torch.from_numpy(delta)[None, None], PARAMS.divergence, PARAMS.convergence,
                                W)[0, 0].numpy()


def exporter(folder: Path, fmt: str = "exr", *, disparity: Path | None = None, dfmt: str = "exr",
             frames: tuple[int, int] = (10, 13), kind: str = "relative", overwrite: bool = False) -> DepthExporter:
    spec = DepthExportSpec(folder, fmt, disparity, dfmt)
    return DepthExporter(spec, stem="shot", fps=Fraction(30000, 1001), frame_range=frames, kind_source=kind,
                         eye_size=(W, H), overwrite=overwrite, media="/footage/shot.mov")


def run(ex: DepthExporter, maps: list[np.ndarray], start: int = 10) -> None:
    ex.check()
    for k, delta in enumerate(maps):
        ex.write(start + k, None if ex.kind_source == "disparity-px" else delta, graded(delta))
    ex.finish()


def hidden(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob(".*")]


# ------------------------------------------------------------------------------------- pure pieces


def test_spec_validates_formats_and_coerces_paths():
    spec = DepthExportSpec("out", "exr", "disp")
    assert spec.folder == Path("out") and spec.disparity_folder == Path("disp")
    for kwargs in ({"format": "tiff"}, {"disparity_format": "png16"}):
        with pytest.raises(UsageError) as info:
            DepthExportSpec(Path("out"), **kwargs)
        assert info.value.exit_code == 2


def test_nearness_png16_and_disparity_values():
    delta = np.array([[0.0, 1.0, 0.25, np.nan]], np.float32)
    near = nearness(delta)
    assert near.dtype == np.float32
    np.testing.assert_array_equal(near[0, :3], [1.0, 0.0, 0.75])
    assert np.isnan(near[0, 3])
    np.testing.assert_array_equal(nearness_to_png16(near), [[65535, 0, 49151, 0]])  # 0.75*65535 = 49151.25
    d = disparity_for_file(np.array([[0.0, -0.0, 2.5, np.inf, np.nan, -1.0]], np.float32))
    assert d.dtype == np.float32 and d[0, 0] == d[0, 1] == np.float32(ZERO_DISPARITY) > 0
    np.testing.assert_array_equal(d[0, [2, 5]], [2.5, -1.0])
    assert np.isnan(d[0, 3:5]).all()


# ------------------------------------------------------------------------------- files and manifest


@pytest.mark.parametrize("fmt", ["png16", "exr", "npy"])
def test_export_files_and_manifest(tmp_path, fmt):
    folder = tmp_path / "vfx" / "depth"  # created, parents too
    maps = deltas()
    run(exporter(folder, fmt, disparity=folder, dfmt="npy" if fmt == "npy" else "exr"), maps)
    ext = {"png16": "png"}.get(fmt, fmt)
    dext = "npy" if fmt == "npy" else "exr"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([f"shot.depth.{f:06d}.{ext}" for f in (10, 11, 12)]
                           + [f"shot.disparity.{f:06d}.{dext}" for f in (10, 11, 12)] + ["depth.json"])
    manifest = json.loads((folder / "depth.json").read_text())
    assert manifest == read_manifest(folder)
    assert manifest["schema"] == SCHEMA == "DepthExport.1" and manifest["kind"] == "nearness"
    assert manifest["fps"] == "30000/1001" and manifest["frame_range"] == [10, 13]
    assert manifest["files"] == f"shot.depth.%06d.{ext}" and manifest["format"] == fmt
    assert manifest["reimport"] == {"depth": manifest["files"], "depth_kind": "inverse"}
    assert manifest["source"] == {"media": "/footage/shot.mov", "depth_kind": "relative", "eye_size": [W, H]}
    assert manifest["disparity"]["folder"] == "." and manifest["disparity"]["reimport"]["depth_kind"] == "disparity-px"
    for k, delta in enumerate(maps):
        path = folder / f"shot.depth.{10 + k:06d}.{ext}"
        if fmt == "png16":
            stored = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            assert stored.dtype == np.uint16 and stored.shape == (H, W)
            np.testing.assert_array_equal(stored, nearness_to_png16(1 - delta))
            assert stored[0, 0] == 0 and stored[0, 1] == 65535  # unknown -> 0 (farthest); δ 0 -> nearest
        else:
            stored = read_exr(path)["Z"] if fmt == "exr" else np.load(path)
            assert stored.dtype == np.float32
            assert stored.tobytes() == nearness(delta).tobytes()  # bit-exact, NaN kept
    if fmt == "png16":
        assert manifest["unknown_pixels"] == 3 and "cannot hold unknown" in manifest["unknown"]
    else:
        assert manifest["unknown"] == "NaN" and manifest.get("channel") == ("Z" if fmt == "exr" else None)
    assert not hidden(tmp_path)


def test_disparity_folder_elsewhere_and_disparity_px_source(tmp_path):
    maps = deltas(2)
    ex = exporter(tmp_path / "d", disparity=tmp_path / "disp", frames=(0, 2), kind="disparity-px")
    run(ex, maps, start=0)
    assert not list((tmp_path / "d").glob("shot.depth.*"))  # no δ exists for a disparity-px source
    manifest = read_manifest(tmp_path / "d" / "depth.json")
    assert manifest["kind"] is None and manifest["files"] is None and manifest["disparity"]["folder"] == "../disp"
    stored = read_exr(tmp_path / "disp" / "shot.disparity.000001.exr")["disparity"]
    assert stored.tobytes() == disparity_for_file(graded(maps[1])).tobytes()
    with pytest.raises(UsageError, match="export-disparity") as info:
        exporter(tmp_path / "e", kind="disparity-px").check()
    assert info.value.exit_code == 2


# --------------------------------------------------------------------------------- atomicity, abort


def test_nothing_in_place_before_finish_and_abort_cleans_up(tmp_path):
    folder = tmp_path / "new" / "depth"
    ex = exporter(folder, disparity=folder)
    ex.check()
    ex.write(10, deltas(1)[0], graded(deltas(1)[0]))
    assert not list(folder.glob("shot.*")) and len(hidden(folder)) == 2  # staged as hidden temp files
    ex.abort()
    assert not (tmp_path / "new").exists()  # the folders check() created are gone too
    ex.abort()  # idempotent


def test_abort_never_touches_files_that_were_there(tmp_path):
    folder = tmp_path / "depth"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    old = folder / "shot.depth.000010.exr"
    old.write_bytes(b"old export")
    ex = exporter(folder, overwrite=True)
    ex.check()
    for k, delta in enumerate(deltas()):
        ex.write(10 + k, delta, graded(delta))
    ex.abort()
    assert old.read_bytes() == b"old export" and (folder / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "shot.depth.000010.exr"]


def test_overwrite_replaces_on_finish(tmp_path):
    folder = tmp_path / "depth"
    run(exporter(folder, "npy"), deltas(seed=1))
    again = deltas(seed=2)
    run(exporter(folder, "npy", overwrite=True), again)
    np.testing.assert_array_equal(np.load(folder / "shot.depth.000012.npy"), nearness(again[2]))
    assert not hidden(folder)


# ------------------------------------------------------------------------------------------ errors


def test_existing_files_without_overwrite_name_one(tmp_path):
    folder = tmp_path / "depth"
    run(exporter(folder), deltas())
    with pytest.raises(OutputError) as info:
        exporter(folder).check()
    assert info.value.exit_code == 4
    assert "shot.depth.000010.exr" in str(info.value) and "3 more" in str(info.value)
    assert "--overwrite" in str(info.value)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        exporter(tmp_path / "file").check()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_unwritable_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="permission denied") as info:
            exporter(folder).check()
        assert "ro" in str(info.value)
        with pytest.raises(OutputError, match="permission denied"):
            exporter(folder / "sub").check()
    finally:
        folder.chmod(0o700)


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_overwrite_replaces_an_earlier_export_as_a_whole(tmp_path):
    folder = tmp_path / "depth"
    run(exporter(folder, frames=(10, 13)), deltas())
    ex = exporter(folder, frames=(11, 13), overwrite=True)
    ex.check()
    assert ex.notes == []  # nothing stale will be left to mention
    ex.write(11, deltas(1)[0], graded(deltas(1)[0]))
    assert files(folder) == ["depth.json", "shot.depth.000010.exr", "shot.depth.000011.exr",
                             "shot.depth.000012.exr"]  # the earlier export is untouched until finish
    ex.write(12, deltas(1)[0], graded(deltas(1)[0]))
    ex.finish()
    assert files(folder) == ["depth.json", "shot.depth.000011.exr", "shot.depth.000012.exr"]
    assert read_manifest(folder)["frame_range"] == [11, 13]
    assert files(tmp_path) == ["depth"]  # no staging folder left beside it


def test_an_aborted_replacement_keeps_the_earlier_export(tmp_path):
    folder = tmp_path / "depth"
    run(exporter(folder, frames=(10, 13)), deltas())
    before = {name: (folder / name).read_bytes() for name in files(folder)}
    ex = exporter(folder, frames=(11, 12), overwrite=True)
    ex.check()
    ex.write(11, deltas(1, seed=5)[0], graded(deltas(1, seed=5)[0]))
    ex.abort()
    assert {name: (folder / name).read_bytes() for name in files(folder)} == before
    assert files(tmp_path) == ["depth"]


def test_an_earlier_export_sharing_its_folder_is_not_replaced(tmp_path):
    folder = tmp_path / "depth"
    run(exporter(folder, frames=(10, 13)), deltas())
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="folder of its own") as refused:
        exporter(folder, frames=(10, 13), overwrite=True).check()
    assert "notes.txt" in str(refused.value) and len(files(folder)) == 5


def test_stale_frames_without_a_manifest_are_noted(tmp_path):
    folder = tmp_path / "depth"
    folder.mkdir()
    (folder / "shot.depth.000010.exr").write_bytes(b"someone's frame")
    ex = exporter(folder, frames=(11, 13), overwrite=True)
    ex.check()
    assert len(ex.notes) == 1 and "1 shot.depth.* file(s) outside frames 11-12" in ex.notes[0]
    ex.abort()


def test_an_export_never_writes_over_or_deletes_an_input(tmp_path):
    folder = tmp_path / "depth"
    run(exporter(folder, frames=(10, 13)), deltas())
    frame = folder / "shot.depth.000011.exr"
    with pytest.raises(UsageError, match="is the input"):
        exporter(folder, frames=(10, 13), overwrite=True).check(inputs=(frame,))
    outside = tmp_path / "elsewhere.exr"
    os.link(frame, outside)  # a hard link outside the folder: replacing the folder keeps the data, but
    with pytest.raises(UsageError, match="is the input"):  # writing frame 11 over its inode is refused
        exporter(folder, frames=(10, 13), overwrite=True).check(inputs=(outside,))
    with pytest.raises(UsageError, match="would delete the input"):
        exporter(folder, frames=(20, 22), overwrite=True).check(inputs=(frame,))
    assert files(folder) == ["depth.json", "shot.depth.000010.exr", "shot.depth.000011.exr",
                             "shot.depth.000012.exr"]


def test_misuse_is_refused(tmp_path):
    delta = deltas(1)[0]
    ex = exporter(tmp_path / "d")
    with pytest.raises(RuntimeError, match="check"):
        ex.write(10, delta, graded(delta))
    ex.check()
    for frame, dl, d, match in ((9, delta, graded(delta), "outside"), (10, delta[:, 1:], graded(delta), "delta"),
                                (10, delta, graded(delta)[1:], "disparity"), (10, None, graded(delta), "given")):
        with pytest.raises(ValueError, match=match):
            ex.write(frame, dl, d)
    ex.write(10, delta, graded(delta))
    with pytest.raises(ValueError, match="twice"):
        ex.write(10, delta, graded(delta))
    with pytest.raises(RuntimeError, match="never written, first 11"):
        ex.finish()
    assert not list((tmp_path / "d").glob("*"))  # a failed finish leaves nothing
    with pytest.raises(UsageError, match="empty"):
        exporter(tmp_path / "x", frames=(5, 5)).check()
    with pytest.raises(UsageError, match="stem"):
        DepthExporter(DepthExportSpec(tmp_path), stem="a/b", fps=Fraction(24), frame_range=(0, 1),
                      kind_source="inverse", eye_size=(W, H), overwrite=False).check()


def test_read_manifest_rejects_foreign_json(tmp_path):
    (tmp_path / "depth.json").write_text(json.dumps({"schema": "Other.1"}))
    with pytest.raises(InvalidProject, match="Other.1"):
        read_manifest(tmp_path)
    (tmp_path / "depth.json").write_text("{")
    with pytest.raises(InvalidProject):
        read_manifest(tmp_path)
    assert reimport_range(tmp_path / "shot.depth.%06d.exr", "inverse") is None


# ------------------------------------------------------------------------------ round trip per frame


def render(image: np.ndarray, depth: np.ndarray, params: StereoParams | None) -> np.ndarray:
    left, right = api.render_frame(image, depth, params, device="cpu")
    return np.concatenate([left, right], axis=1)


@pytest.mark.parametrize("fmt, tolerance", [("exr", 0), ("npy", 0), ("png16", 1)])
def test_reimport_reproduces_the_render(tmp_path, fmt, tolerance):
    """Re-imported nearness (`inverse`, normalised with reimport_range) and disparity (`disparity-px`)
    render the same frames as the original δ: exactly for exr/npy, within one code value for png16."""
    maps = deltas(3, seed=5)
    maps[1][4:8, 4:12] = np.float32(1.0 / 3.0)  # on the screen plane: disparity exactly 0
    if fmt == "png16":  # 16-bit PNG cannot hold unknown (written as farthest, which renders differently)
        maps = [np.nan_to_num(m, nan=0.5) for m in maps]
    assert (graded(maps[1])[4:8, 4:12] == 0).all()
    folder = tmp_path / "exp"
    run(exporter(folder, fmt, disparity=folder, dfmt="npy" if fmt == "npy" else "exr", frames=(0, 3)),
        maps, start=0)
    ext = {"png16": "png"}.get(fmt, fmt)
    pattern = folder / f"shot.depth.%06d.{ext}"
    fixed = reimport_range(pattern, "inverse")
    assert fixed == (0.0, 65535.0 if fmt == "png16" else 1.0)
    near = ImportedDepth(pattern, "inverse")
    disp = ImportedDepth(folder / f"shot.disparity.%06d.{'npy' if fmt == 'npy' else 'exr'}", "disparity-px")
    norm = ShotNormaliser.from_range("inverse", *fixed)
    for k, delta in enumerate(maps):
        image = coded_image(k, W, H)
        original = render(image, delta, PARAMS)
        again = norm.apply(near.read(k, W, H))
        assert np.array_equal(np.isnan(again), np.isnan(delta))
        diff = np.abs(render(image, again, PARAMS).astype(int) - original.astype(int))
        assert diff.max() <= tolerance
        np.testing.assert_array_equal(render(image, disp.read(k, W, H), None), original)


def test_reimport_range_matches_only_this_export(tmp_path):
    folder = tmp_path / "exp"
    run(exporter(folder, "exr", disparity=folder), deltas())
    for name in ("shot.depth.%06d.exr", "shot.depth.######.exr", "shot.depth.000011.exr"):
        assert reimport_range(folder / name, "inverse") == (0.0, 1.0), name
    assert reimport_range(folder, "inverse") == (0.0, 1.0)
    assert reimport_range(folder / "shot.depth.%06d.exr", "relative") is None
    assert reimport_range(folder / "shot.disparity.%06d.exr", "inverse") is None
    assert reimport_range(folder / "other.depth.%06d.exr", "inverse") is None
    assert reimport_range(tmp_path / "elsewhere.%06d.exr", "inverse") is None


def test_read_manifest_goes_through_the_versioning_registry(tmp_path):
    (tmp_path / "depth.json").write_text(json.dumps({"schema": "DepthExport.2"}))
    with pytest.raises(InvalidProject, match="newer"):
        read_manifest(tmp_path)
    (tmp_path / "depth.json").write_text(json.dumps({"kind": "nearness"}))
    with pytest.raises(InvalidProject, match="no schema tag"):
        read_manifest(tmp_path)
