"""Depth (and disparity) export for VFX round trips: ``--export-depth DIR`` / ``--export-disparity DIR``.

CONVENTIONS.md "Files": the exact depth the grade used, after stabilisation and per-shot
normalisation, as **nearness** = 1 − δ (0 farthest, 1 nearest), one file per rendered source frame:

- ``DIR/<stem>.depth.<source_frame:06d>.png`` — 16-bit grey, round(nearness · 65535);
- ``DIR/<stem>.depth.<source_frame:06d>.exr`` — float32, channel ``Z`` (ZIP compressed);
- ``DIR/<stem>.depth.<source_frame:06d>.npy`` — float32 (H, W);

plus ``DIR/depth.json`` (schema ``DepthExport.1``), written last. Re-import with
``--depth DIR/<stem>.depth.%06d.exr --depth-kind inverse``.

With a disparity folder, the pixel disparity each frame was rendered with (the full left–right
disparity of the source view, x_R = x_L − d, in pixels of the eye width) goes to
``<stem>.disparity.<source_frame:06d>.exr`` (float32, channel ``disparity``) or ``.npy``;
re-import with ``--depth-kind disparity-px``.

Unknown pixels: NaN in EXR and npy (they stay unknown on re-import). A 16-bit PNG cannot hold
"unknown": such pixels are written as 0 (farthest) and depth.json says how many there were.
On import, a disparity of exactly 0 means unknown (CONVENTIONS.md), so a true zero disparity (a
pixel on the screen plane) is written as the smallest normal float32, 1.18e-38 px: it re-imports
as known and moves nothing by a representable amount.

Atomicity: every file is first written to a hidden temp file beside its target; :meth:`finish`
renames them all into place and then writes depth.json. :meth:`abort` (a cancelled or failed
convert) deletes this run's temp files and any folder :meth:`check` created, so an abandoned run
leaves no half export and never touches files that were there before (with ``overwrite``, old
files are replaced only by :meth:`finish`).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from engine.errors import InvalidProject, OutputError, UsageError
from engine.fileio import (
    atomic_write_json,
    is_inside,
    partial_name,
    refuse_inputs_as_outputs,
    replace_folder,
    write_temp_beside,
)
from engine.media.atomic import create_temp, os_output_error, remove_quietly, replace_into_place
from engine.media.exr import encode_exr
from engine.opencv import cv2
from engine.versioning import parse_schema, upgrade_to_current
from engine.vocabulary import DEPTH_EXPORT_FORMATS as DEPTH_FORMATS
from engine.vocabulary import DEPTH_KINDS
from engine.vocabulary import DISPARITY_EXPORT_FORMATS as DISPARITY_FORMATS

SCHEMA = "DepthExport.1"
MANIFEST_NAME = "depth.json"
PNG16_SCALE = 65535
DISPARITY_CHANNEL = "disparity"
ZERO_DISPARITY = float(np.finfo(np.float32).tiny)
"""What a disparity of exactly 0 is written as (0 means unknown on import)."""

_EXTENSIONS = {"png16": "png", "exr": "exr", "npy": "npy"}


@dataclass(frozen=True)
class DepthExportSpec:
    """``--export-depth DIR --export-depth-format F [--export-disparity DIR2 --export-disparity-format F2]``.

    Attributes:
        folder: where the depth files and depth.json go (created when missing).
        format: 'png16' | 'exr' | 'npy'.
        disparity_folder: where the per-frame pixel disparity goes (may be `folder`); None = not exported.
        disparity_format: 'exr' | 'npy'.
    """

    folder: Path
    format: str = "png16"
    disparity_folder: Path | None = None
    disparity_format: str = "exr"

    def __post_init__(self) -> None:
        object.__setattr__(self, "folder", Path(self.folder))
        if self.disparity_folder is not None:
            object.__setattr__(self, "disparity_folder", Path(self.disparity_folder))
        if self.format not in DEPTH_FORMATS:
            raise UsageError(f"unknown depth export format {self.format!r}",
                             hint=f"Use one of {', '.join(DEPTH_FORMATS)}")
        if self.disparity_format not in DISPARITY_FORMATS:
            raise UsageError(f"unknown disparity export format {self.disparity_format!r}",
                             hint=f"Use one of {', '.join(DISPARITY_FORMATS)}")


# ------------------------------------------------------------------------------------ pure pieces


def depth_file_name(stem: str, source_frame: int, fmt: str) -> str:
    """``<stem>.depth.<source_frame:06d>.<png|exr|npy>``."""
    return f"{stem}.depth.{source_frame:06d}.{_EXTENSIONS[fmt]}"


def disparity_file_name(stem: str, source_frame: int, fmt: str) -> str:
    """``<stem>.disparity.<source_frame:06d>.<exr|npy>``."""
    return f"{stem}.disparity.{source_frame:06d}.{_EXTENSIONS[fmt]}"


def nearness(delta: np.ndarray) -> np.ndarray:
    """Nearness = 1 − δ.

    Args:
        delta: (H, W) normalised depth δ in [0, 1] (0 nearest); NaN = unknown.
    Returns:
        (H, W) float32 in [0, 1], 0 farthest, 1 nearest; NaN stays NaN.
    """
    return (np.float32(1.0) - np.asarray(delta, dtype=np.float32)).astype(np.float32)


def nearness_to_png16(near: np.ndarray) -> np.ndarray:
    """(H, W) float nearness -> (H, W) uint16 round(nearness · 65535); NaN -> 0 (farthest)."""
    scaled = np.nan_to_num(np.clip(near, 0.0, 1.0), nan=0.0) * PNG16_SCALE
    return np.rint(scaled).astype(np.uint16)


def disparity_for_file(disparity: np.ndarray) -> np.ndarray:
    """(H, W) px -> float32 with exact zeros (which mean unknown on import) as :data:`ZERO_DISPARITY`.

    Non-finite values (unknown) become NaN.
    """
    d = np.array(disparity, dtype=np.float32)
    d[~np.isfinite(d)] = np.nan
    d[d == 0] = np.float32(ZERO_DISPARITY)
    return d


def encode_depth(near: np.ndarray, fmt: str) -> bytes:
    """File bytes of one nearness map (H, W) in `fmt` ('png16' | 'exr' | 'npy')."""
    if fmt == "png16":
        ok, data = cv2.imencode(".png", nearness_to_png16(near))
        if not ok:
            raise OutputError("OpenCV could not encode a 16-bit PNG")
        return data.tobytes()
    if fmt == "exr":
        return encode_exr({"Z": np.asarray(near, np.float32)}, "zip")
    return _npy_bytes(near)


def encode_disparity(disparity: np.ndarray, fmt: str) -> bytes:
    """File bytes of one disparity map (H, W) px in `fmt` ('exr' | 'npy'), zeros made non-zero."""
    d = disparity_for_file(disparity)
    return encode_exr({DISPARITY_CHANNEL: d}, "zip") if fmt == "exr" else _npy_bytes(d)


def _npy_bytes(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(values, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def _write_new_temp(target: Path, data: bytes) -> Path:
    """Write `data` to a new hidden temp file beside `target` (fsync'd); return the temp path."""
    try:
        return write_temp_beside(target, data)
    except OSError as exc:
        raise os_output_error(exc, target, "cannot write") from exc


def export_file_pattern(manifest: dict, key: str = "files") -> re.Pattern | None:
    """A regex for every frame file of an export's printf pattern (``stem.depth.%06d.png``), any frame."""
    files = manifest.get(key) if key == "files" else (manifest.get("disparity") or {}).get("files")
    if not isinstance(files, str) or "%06d" not in files:
        return None
    head, tail = files.split("%06d", 1)
    return re.compile(re.escape(head) + r"\d{6,}" + re.escape(tail))


def earlier_export_files(folder: Path) -> tuple[list[Path], list[Path]] | None:
    """An earlier export of ours in `folder`: (its files, every other entry), or None when there is none.

    Its files are depth.json and the frames of its depth (and same-folder disparity) pattern;
    hidden partial files of our own runs are neither.
    """
    try:
        manifest = read_manifest(folder)
    except InvalidProject:
        return None
    patterns = [p for p in (export_file_pattern(manifest), export_file_pattern(manifest, "disparity")
                            if (manifest.get("disparity") or {}).get("folder") == "." else None) if p]
    ours, others = [], []
    for entry in sorted(folder.iterdir()):
        if entry.name == MANIFEST_NAME or any(p.fullmatch(entry.name) for p in patterns):
            ours.append(entry)
        elif ".partial-" not in entry.name:
            others.append(entry)
    return ours, others


def _relative_folder(folder: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(folder, base)).as_posix()
    except ValueError:  # another drive
        return str(folder.resolve())


def read_manifest(path: str | Path) -> dict:
    """The depth.json of an export (give the file or its folder); InvalidProject if it is not one."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidProject(f"cannot read this depth export manifest: {exc}", path=path,
                             hint="Export the depth again with --export-depth") from exc
    found = payload.get("schema") if isinstance(payload, dict) else None
    try:
        if not isinstance(payload, dict):
            raise InvalidProject("the manifest is not a JSON object", path=path)
        return upgrade_to_current(payload, *parse_schema(SCHEMA), path=str(path))  # the one registry
    except InvalidProject as exc:
        raise InvalidProject(f"not a {SCHEMA} manifest (schema {found!r}: {exc.message})", path=path,
                             hint="Export the depth again with this version") from exc


def reimport_range(path: str | Path, kind: str) -> tuple[float, float] | None:
    """The exact normalisation range of an exported nearness sequence being re-imported, else None.

    Re-normalising exported nearness from its own 2 %/98 % percentiles does not give back the δ the
    grade used (the percentiles of 1 − δ land on 0 and 1 only when the original depth had ties
    there), so the master would differ. When `path` (a ``--depth`` pattern, frame file or folder)
    names the files of a :data:`SCHEMA` export in its folder and `kind` is 'inverse', the pipeline
    should normalise with this fixed range instead: δ = (hi − v) / (hi − lo) = 1 − nearness.

    Returns:
        (lo, hi) in the raw units the importer reads: (0, 1) for exr/npy, (0, 65535) for png16;
        None when `kind` is not 'inverse' or there is no matching depth.json.
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    if kind != "inverse" or not (folder / MANIFEST_NAME).is_file():
        return None
    try:
        manifest = read_manifest(folder)
    except InvalidProject:
        return None  # someone else's depth.json: not ours to interpret
    files = manifest.get("files")
    if manifest.get("kind") != "nearness" or not isinstance(files, str) or "%06d" not in files:
        return None
    head, tail = files.split("%06d", 1)
    frame = r"(?:%0?6d|%d|#{6}|\d{6,})"
    if not path.is_dir() and not re.fullmatch(re.escape(head) + frame + re.escape(tail), path.name):
        return None
    return 0.0, float(manifest.get("scale", 1))


# --------------------------------------------------------------------------------------- exporter


class DepthExporter:
    """Writes one depth (and optionally disparity) file per rendered frame, then depth.json.

    Created by the pipeline before the render pass; :meth:`check` before any work; :meth:`write`
    once per rendered source frame (any order); :meth:`finish` after the master is committed
    (renames every file into place, writes depth.json last, atomically); :meth:`abort` on cancel or
    failure (removes what this run wrote and the folders it created; never a file that was there
    before). Not thread-safe: call from one thread.

    Args:
        spec: folders and formats.
        stem: file-name stem (e.g. the output's stem); no path separators.
        fps: source frame rate.
        frame_range: [start, end) in source frames, the frames the master holds.
        kind_source: kind of the depth the pipeline read (:data:`DEPTH_KINDS`); 'disparity-px' means
            there is no δ (no grading): only the disparity can be exported.
        eye_size: (width, height) of one eye, the size of δ and the disparity.
        overwrite: replace files of an earlier export.
        media: the source media path, recorded in depth.json.
        first_number: the file number of source frame 0 (an image sequence's own first number, e.g. 1001,
            so the export lines up with the plate; 0 for videos). depth.json records it.

    Attributes:
        notes: things a front end should tell the user (found in :meth:`check`).
    """

    def __init__(self, spec: DepthExportSpec, *, stem: str, fps: Fraction, frame_range: tuple[int, int],
                 kind_source: str, eye_size: tuple[int, int], overwrite: bool,
                 media: str | Path | None = None, first_number: int = 0) -> None:
        self.spec, self.stem, self.fps = spec, stem, Fraction(fps)
        self.first_number = int(first_number)
        self.frame_range = (int(frame_range[0]), int(frame_range[1]))
        self.kind_source, self.eye_size, self.overwrite = kind_source, tuple(eye_size), overwrite
        self.media = None if media is None else str(media)
        self.notes: list[str] = []
        self.has_depth = kind_source != "disparity-px"
        self._staged: dict[Path, Path] = {}
        self._committed: list[Path] = []
        self._created: list[Path] = []
        self._written: set[int] = set()
        self._unknown_png = 0
        self._staging: Path | None = None
        self._state = "new"

    # ------------------------------------------------------------------------------------ paths

    @property
    def manifest_path(self) -> Path:
        """``<folder>/depth.json``."""
        return self.spec.folder / MANIFEST_NAME

    def depth_path(self, source_frame: int) -> Path:
        """Where frame `source_frame`'s nearness goes."""
        return self.spec.folder / depth_file_name(self.stem, source_frame + self.first_number, self.spec.format)

    def disparity_path(self, source_frame: int) -> Path:
        """Where frame `source_frame`'s disparity goes (needs a disparity folder)."""
        if self.spec.disparity_folder is None:
            raise ValueError("this export has no disparity folder")
        return self.spec.disparity_folder / disparity_file_name(self.stem, source_frame + self.first_number,
                                                                self.spec.disparity_format)

    def targets(self) -> list[Path]:
        """Every file a finished run leaves: per-frame depth, per-frame disparity, depth.json."""
        frames = range(*self.frame_range)
        paths = [self.depth_path(f) for f in frames] if self.has_depth else []
        if self.spec.disparity_folder is not None:
            paths += [self.disparity_path(f) for f in frames]
        return [*paths, self.manifest_path]

    # ------------------------------------------------------------------------------------ check

    def check(self, inputs: tuple[Path, ...] = (), others: tuple[Path, ...] = ()) -> None:
        """Before any work: sane arguments, folders exist (created if needed) and are writable, no file
        of this export exists unless `overwrite`, and none is (or would delete) an input.

        With `overwrite` and an earlier export of ours in the folder, that export is replaced as a
        whole: this run is staged in a hidden folder beside it and :meth:`finish` swaps the two
        (atomically on Linux), so old and new frames never mix. That needs a folder holding nothing
        but the earlier export; otherwise it is refused.

        Args:
            inputs: files the job reads (never written over, never inside a replaced folder).
            others: files other writers of the same job put beside the export (hole masks).
        Raises:
            UsageError: bad stem/range/size/kind, depth asked of a disparity-px source without a
                disparity folder, an output that is an input.
            OutputError: a folder cannot be created or written, a target exists (names one), an
                earlier export to replace shares its folder with other files.
        """
        if self._state != "new":
            raise RuntimeError(f"DepthExporter.check after {self._state!r}: call it once, first")
        self._check_arguments()
        folders = [self.spec.folder]
        if self.spec.disparity_folder is not None and self.spec.disparity_folder != self.spec.folder:
            folders.append(self.spec.disparity_folder)
        try:
            refuse_inputs_as_outputs(self.targets(), inputs)
            for folder in folders:
                self._prepare_folder(folder)
            self._check_conflicts()
            self._plan_replacement(inputs, others)
        except BaseException:
            self._remove_created_folders()
            raise
        if self._staging is None:  # a replaced export leaves nothing stale behind
            self._note_stale_files()
        self._state = "checked"

    def _check_arguments(self) -> None:
        start, end = self.frame_range
        if not 0 <= start < end:
            raise UsageError(f"depth export frame range [{start}, {end}) is empty or negative")
        if not self.stem or any(sep in self.stem for sep in ("/", "\\", "\0")):
            raise UsageError(f"depth export stem {self.stem!r} must be a plain file-name stem")
        if len(self.eye_size) != 2 or min(self.eye_size) <= 0:
            raise UsageError(f"depth export eye size {self.eye_size} must be (width, height) > 0")
        if self.kind_source not in DEPTH_KINDS:
            raise UsageError(f"unknown depth kind {self.kind_source!r}", hint=f"Use one of {', '.join(DEPTH_KINDS)}")
        if not self.has_depth and self.spec.disparity_folder is None:
            raise UsageError("there is no graded depth to export: the input depth is pixel disparity "
                             "(--depth-kind disparity-px)", path=self.spec.folder,
                             hint="Use --export-disparity DIR to export the disparity instead")

    def _prepare_folder(self, folder: Path) -> None:
        """Create `folder` (and missing parents, remembered for abort) and prove it is writable."""
        if folder.exists() and not folder.is_dir():
            raise OutputError("exists and is not a folder", path=folder, hint="Choose a folder for the export")
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise os_output_error(exc, folder, "cannot create the export folder") from exc
        self._created.extend(reversed(missing))  # parents first; removal goes deepest first
        remove_quietly(create_temp(folder / MANIFEST_NAME))

    def _plan_replacement(self, inputs: tuple[Path, ...], others: tuple[Path, ...]) -> None:
        """With overwrite and an earlier export in the folder: stage beside it, or refuse."""
        folder = self.spec.folder
        earlier = earlier_export_files(folder) if self.overwrite else None
        if earlier is None:
            return
        _, foreign = earlier
        foreign += [p for p in others if is_inside(p, folder)]
        if foreign:
            raise OutputError(f"holds an earlier depth export and other files (e.g. {foreign[0].name}); "
                              "--overwrite replaces an export only in a folder of its own", path=folder,
                              hint="Remove the old export yourself, or export into an empty folder")
        refuse_inputs_as_outputs((), inputs, replaced_folders=(folder,))
        self._staging = folder.with_name(partial_name(folder.name, ""))
        try:
            self._staging.mkdir()
        except OSError as exc:
            self._staging = None
            raise os_output_error(exc, folder, "cannot create a staging folder beside the export") from exc

    def _place(self, target: Path) -> Path:
        """Where `target` is written this run: the staging folder when replacing an earlier export."""
        if self._staging is not None and target.parent == self.spec.folder:
            return self._staging / target.name
        return target

    def _check_conflicts(self) -> None:
        if self.overwrite:
            return
        existing = [p for p in self.targets() if p.exists() or p.is_symlink()]
        if existing:
            more = f" (and {len(existing) - 1} more files of this export)" if len(existing) > 1 else ""
            raise OutputError(f"already exists{more}", path=existing[0],
                              hint="Pass --overwrite to replace them, or choose another export folder")

    def _note_stale_files(self) -> None:
        """Files of the same sequences outside this range would be picked up by a pattern re-import."""
        targets = set(self.targets())
        checks = [(self.spec.folder, f"{self.stem}.depth.")] if self.has_depth else []
        if self.spec.disparity_folder is not None:
            checks.append((self.spec.disparity_folder, f"{self.stem}.disparity."))
        for folder, prefix in checks:
            stale = [p for p in folder.glob(f"{prefix}*") if p not in targets and not p.name.startswith(".")]
            if stale:
                self.notes.append(f"{folder} also holds {len(stale)} {prefix}* file(s) outside frames "
                                  f"{self.frame_range[0]}-{self.frame_range[1] - 1} (e.g. {min(stale).name}); "
                                  "a pattern re-import would read them too")

    # ------------------------------------------------------------------------------------ write

    def write(self, source_frame: int, delta: np.ndarray | None, disparity: np.ndarray) -> None:
        """Stage one frame's files (hidden temp files; :meth:`finish` puts them in place).

        Args:
            source_frame: index in source frames, inside `frame_range`, each once.
            delta: (H, W) δ in [0, 1] the grade used (0 nearest, NaN unknown); None exactly when
                `kind_source` is 'disparity-px'.
            disparity: (H, W) px the frame was rendered with (full left–right disparity of the
                source view, x_R = x_L − d; NaN unknown). Written only with a disparity folder.
        Raises:
            OutputError: the disk refuses (full, permissions).
        """
        self._check_frame(source_frame, delta, disparity)
        if self.has_depth:
            near = nearness(delta)
            if self.spec.format == "png16":
                self._unknown_png += int(np.count_nonzero(np.isnan(near)))
            self._stage(self.depth_path(source_frame), encode_depth(near, self.spec.format))
        if self.spec.disparity_folder is not None:
            self._stage(self.disparity_path(source_frame), encode_disparity(disparity, self.spec.disparity_format))
        self._written.add(source_frame)

    def _check_frame(self, source_frame: int, delta: np.ndarray | None, disparity: np.ndarray) -> None:
        if self._state != "checked":
            raise RuntimeError(f"DepthExporter.write after {self._state!r}: call check() first, once")
        if not self.frame_range[0] <= source_frame < self.frame_range[1] or source_frame in self._written:
            raise ValueError(f"source frame {source_frame} is outside {self.frame_range} or written twice")
        shape = (self.eye_size[1], self.eye_size[0])
        if (delta is None) == self.has_depth:
            raise ValueError(f"delta must be {'given' if self.has_depth else 'None'} for kind "
                             f"{self.kind_source!r}")
        for name, values in (("delta", delta), ("disparity", disparity)):
            if values is not None and np.shape(values) != shape:
                raise ValueError(f"{name} must be (H, W) = {shape}, got {np.shape(values)}")

    def _stage(self, target: Path, data: bytes) -> None:
        tmp = _write_new_temp(self._place(target), data)
        old = self._staged.pop(target, None)
        remove_quietly(old)
        self._staged[target] = tmp

    # ----------------------------------------------------------------------------------- finish

    def finish(self) -> None:
        """Move every staged file into place, then write depth.json (atomically, last).

        Raises:
            RuntimeError: a frame of the range was never written (a pipeline bug).
            OutputError: a target appeared meanwhile (without overwrite) or the disk refused.
            Either way the run is aborted (:meth:`abort`): nothing of it is left.
        """
        if self._state != "checked":
            raise RuntimeError(f"DepthExporter.finish after {self._state!r}")
        try:
            missing = sorted(set(range(*self.frame_range)) - self._written)
            if missing:
                raise RuntimeError(f"depth export: {len(missing)} frame(s) never written, first {missing[0]}")
            for target, tmp in list(self._staged.items()):
                replace_into_place(tmp, self._place(target), self.overwrite)
                del self._staged[target]
                self._committed.append(self._place(target))
            manifest = self._place(self.manifest_path)
            if manifest.exists() and not self.overwrite:
                raise OutputError("already exists", path=self.manifest_path, hint="Pass --overwrite to replace it")
            try:
                atomic_write_json(manifest, self.manifest())
                if self._staging is not None:  # the earlier export goes as a whole, in one swap
                    replace_folder(self._staging, self.spec.folder)
                    self._staging = None
            except OSError as exc:
                raise os_output_error(exc, self.manifest_path, "cannot write") from exc
        except BaseException:
            self.abort()
            raise
        self._committed.clear()
        self._state = "finished"

    def abort(self) -> None:
        """Remove this run's temp files, any file a failed :meth:`finish` had put in place and the
        folders :meth:`check` created (if empty). Safe to call more than once; no-op after finish."""
        if self._state == "finished":
            return
        for tmp in self._staged.values():
            remove_quietly(tmp)
        self._staged.clear()
        for path in self._committed:
            remove_quietly(path)
        self._committed.clear()
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None
        self._remove_created_folders()
        self._state = "aborted"

    def _remove_created_folders(self) -> None:
        for folder in reversed(self._created):
            try:
                folder.rmdir()
            except OSError:
                break  # not empty (someone else's files) or gone: leave it and its parents
        self._created.clear()

    # --------------------------------------------------------------------------------- manifest

    def manifest(self) -> dict:
        """The depth.json payload (see the module notes)."""
        start, end = self.frame_range
        payload: dict = {
            "schema": SCHEMA,
            "kind": "nearness" if self.has_depth else None,
            "source": {"media": self.media, "depth_kind": self.kind_source,
                       "eye_size": list(self.eye_size)},
            "fps": f"{self.fps.numerator}/{self.fps.denominator}",
            "frame_range": [start, end],
            "frame_count": end - start,
        }
        if self.first_number:
            payload["first_number"] = self.first_number  # file number of source frame 0
        payload.update(self._depth_entry() if self.has_depth else {
            "format": None, "files": None,
            "note": "the source depth is pixel disparity (disparity-px): there is no graded depth"})
        payload["disparity"] = self._disparity_entry()
        return payload

    def _depth_entry(self) -> dict:
        fmt = self.spec.format
        pattern = f"{self.stem}.depth.%06d.{_EXTENSIONS[fmt]}"
        entry = {
            "definition": "nearness = 1 - delta (0 farthest, 1 nearest); delta is the per-shot "
                          "normalised depth the grade used",
            "format": fmt,
            "files": pattern,
            "dtype": "uint16" if fmt == "png16" else "float32",
            "scale": PNG16_SCALE if fmt == "png16" else 1,
            "reimport": {"depth": pattern, "depth_kind": "inverse"},
        }
        if fmt == "exr":
            entry["channel"] = "Z"
        if fmt == "png16":
            entry["unknown"] = "written as 0 (farthest): 16-bit PNG cannot hold unknown"
            entry["unknown_pixels"] = self._unknown_png
        else:
            entry["unknown"] = "NaN"
        return entry

    def _disparity_entry(self) -> dict | None:
        folder = self.spec.disparity_folder
        if folder is None:
            return None
        fmt = self.spec.disparity_format
        pattern = f"{self.stem}.disparity.%06d.{_EXTENSIONS[fmt]}"
        entry = {
            "folder": _relative_folder(folder, self.spec.folder),
            "format": fmt,
            "files": pattern,
            "dtype": "float32",
            "units": f"pixels of the {self.eye_size[0]}-pixel-wide eye",
            "convention": "full left-right disparity of the source view: x_R = x_L - d, "
                          "d > 0 in front of the screen plane",
            "unknown": "NaN",
            "zero_written_as": ZERO_DISPARITY,
            "reimport": {"depth": pattern, "depth_kind": "disparity-px"},
        }
        if fmt == "exr":
            entry["channel"] = DISPARITY_CHANNEL
        return entry


__all__ = ["DEPTH_FORMATS", "DISPARITY_FORMATS", "MANIFEST_NAME", "SCHEMA", "ZERO_DISPARITY", "DepthExportSpec",
           "DepthExporter", "depth_file_name", "disparity_file_name", "disparity_for_file", "encode_depth",
           "encode_disparity", "nearness", "nearness_to_png16", "read_manifest",
           "reimport_range"]
