"""Batch conversion: many inputs (files, folders, `--recursive`, `--glob`), one output folder, one
output per input named by a template, per-input outcomes, `--resume`, a summary at the end.

    for p in batch(BatchRequest(inputs=(Path("clips"),), output_dir=Path("out"), base=ConvertRequest(None))):
        ...                             # Progress of each conversion, plus "batch" steps
    report = ...                        # StopIteration.value: a BatchReport (its exit_code: 0, 3 or 4)

Rules (issue 15): an INPUT that is a sequence pattern, a folder of one numbered run among several
INPUTs, or (with `--recursive`) a sub-folder of one numbered run is one item, an image sequence (named
by its stem, e.g. the folder's name; `--fps` applies to all of them);
files whose extension is not a media format are skipped and listed (never probed);
a media file that fails (damaged, unsupported, an output problem) is recorded with its one-line
reason and the batch goes on; an empty selection is an InputError before anything is created; the
output folder is created only when there is work; `--resume` skips an input whose every output exists
and holds the frames the conversion would write (checked by probing it; the file is not touched);
no output may be any input of the batch (every input is passed to each conversion's check) and two
inputs may not map to one output name. Cancelling stops the batch (the running conversion removes
its partial output); finished outputs stay.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.errors import Cancelled, InputError, MediaError, OutputError, SpatialDreamerError, UsageError
from engine.jobs.plan import input_files, output_paths, player_name
from engine.jobs.request import ConvertRequest, media_options
from engine.media import STILL_EXTENSIONS
from engine.media.sequence import folder_run, is_sequence_path, source_stem
from engine.progress import CancelToken, Progress

VIDEO_INPUT_EXTENSIONS = frozenset({".mp4", ".mov", ".mkv", ".m4v", ".avi", ".webm", ".mxf", ".mts", ".m2ts",
                                    ".ts", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".y4m", ".mj2"})
MEDIA_EXTENSIONS = VIDEO_INPUT_EXTENSIONS | STILL_EXTENSIONS
"""Suffixes a batch converts; anything else is skipped as not media (without opening it)."""

DEFAULT_TEMPLATE = "{stem}_{layout}{ext}"
PLAYER_TEMPLATE = "{stem}{ext}"
_CODEC_EXTENSIONS = {"h264": ".mp4", "hevc": ".mp4", "prores": ".mov", "ffv1": ".mkv", "h264_nvenc": ".mp4",
                     "hevc_nvenc": ".mp4"}


@dataclass(frozen=True)
class BatchRequest:
    """A batch conversion.

    Attributes:
        inputs: files and folders as given (a folder contributes its files; sub-folders with `recursive`).
        output_dir: the folder the outputs go to (created when missing; sub-folders mirrored with `recursive`).
        base: the settings of every conversion (its `input` and `output` are replaced per item).
        template: output name; fields {stem} (input stem), {layout}, {ext} (the codec's container, or the
            still's own suffix), {name} (input file name). None = DEFAULT_TEMPLATE, or PLAYER_TEMPLATE
            with `name_for_players`.
        recursive: walk sub-folders of folder inputs.
        glob: keep only files whose name matches (e.g. '*.mov'); applies to folder contents.
        resume: skip inputs whose outputs exist and are complete.
        name_for_players: add the player suffix (CONVENTIONS.md "Files") after the template.
    """

    inputs: tuple[Path, ...]
    output_dir: Path
    base: ConvertRequest
    template: str | None = None
    recursive: bool = False
    glob: str | None = None
    resume: bool = False
    name_for_players: bool = False


@dataclass(frozen=True)
class BatchItem:
    """One input's outcome: status 'done' | 'skipped' | 'failed'; `reason` for the last two."""

    input: Path
    outputs: tuple[Path, ...]
    status: str
    reason: str = ""
    exit_code: int = 0


@dataclass
class BatchReport:
    """What the batch did, in input order; `not_media` are the files skipped without opening them."""

    output_dir: Path
    items: list[BatchItem] = field(default_factory=list)
    not_media: list[Path] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(item.status == status for item in self.items)

    @property
    def exit_code(self) -> int:
        """0 when nothing failed; 4 when an output failed; else 3 (CONVENTIONS.md "CLI")."""
        failed = [item.exit_code for item in self.items if item.status == "failed"]
        if not failed:
            return 0
        return 4 if OutputError.exit_code in failed else InputError.exit_code

    def to_dict(self) -> dict:
        """JSON-ready summary (schema BatchReport.1)."""
        return {"schema": "BatchReport.1", "output_dir": str(self.output_dir),
                "done": self.count("done"), "skipped": self.count("skipped"), "failed": self.count("failed"),
                "items": [{"input": str(i.input), "outputs": [str(p) for p in i.outputs], "status": i.status,
                           "reason": i.reason} for i in self.items],
                "not_media": [str(p) for p in self.not_media], "exit_code": self.exit_code}

    def summary_lines(self) -> list[str]:
        """The table printed at the end: one line per input, then the files that were not media."""
        lines = [f"batch: {self.count('done')} done, {self.count('skipped')} skipped, {self.count('failed')} failed"
                 + (f", {len(self.not_media)} not media" if self.not_media else "")]
        for item in self.items:
            target = ", ".join(str(p) for p in item.outputs)
            if item.status == "done":
                lines.append(f"  done     {item.input} -> {target}")
            else:
                lines.append(f"  {item.status:<8} {item.input}: {item.reason}")
        lines += [f"  not media {path} (skipped)" for path in self.not_media]
        return lines


# ------------------------------------------------------------------------------------ selection


def _inside(path: Path, folder: Path) -> bool:
    real, base = os.path.realpath(path), os.path.realpath(folder)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def _folder_files(folder: Path, recursive: bool, pattern: str | None, skip: Path) -> Iterator[tuple[Path, Path]]:
    """(file, its folder relative to `folder`) for visible files, sorted, not inside `skip`; with
    `recursive`, a sub-folder that is one numbered run of stills comes as one item (an image sequence)."""
    for root, dirs, files in os.walk(folder):
        subs = sorted(d for d in dirs if not d.startswith(".") and not _inside(Path(root) / d, skip)) \
            if recursive else []
        runs = [d for d in subs if folder_run(Path(root) / d) is not None]
        dirs[:] = [d for d in subs if d not in runs]
        rel = Path(root).relative_to(folder)
        for name in runs:
            yield Path(root) / name, rel
        for name in sorted(files):
            if name.startswith(".") or (pattern and not fnmatch.fnmatch(name, pattern)):
                continue
            yield Path(root) / name, rel


def _given(path: Path, request: BatchRequest) -> Iterator[tuple[Path, Path]]:
    """What one INPUT of a batch contributes: a file; a sequence (a pattern, or among several inputs a
    folder of one numbered run); else a folder's files."""
    if path.is_file() or (is_sequence_path(path) and not path.is_dir()):
        return iter([(path, Path())])
    if path.is_dir():
        if len(request.inputs) > 1 and folder_run(path) is not None:
            return iter([(path, Path())])
        return _folder_files(path, request.recursive, request.glob, request.output_dir)
    raise InputError("input not found", path=path, hint="Check the path")


def is_sequence_item(path: Path) -> bool:
    """A batch item that is an image sequence (a pattern or a folder) rather than one file."""
    return not path.is_file() and is_sequence_path(path)


def select_inputs(request: BatchRequest) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """(media files and image sequences with their relative sub-folder, files skipped as not media), in
    input order. Sequences need the base request's fps.

    Raises:
        InputError: an input that does not exist.
    """
    media: dict[str, tuple[Path, Path]] = {}
    not_media: list[Path] = []
    for given in request.inputs:
        for path, rel in _given(Path(given), request):
            if not is_sequence_item(path) and path.suffix.lower() not in MEDIA_EXTENSIONS:
                not_media.append(path)
            else:
                media.setdefault(os.path.realpath(path), (path, rel))  # the same file twice counts once
    return list(media.values()), not_media


def output_name(request: BatchRequest, source: Path) -> str:
    """The output file name of one input by the template (and the player suffix when asked)."""
    base = request.base
    sequence = is_sequence_item(source)
    ext = source.suffix.lower() if not sequence and source.suffix.lower() in STILL_EXTENSIONS else \
        _CODEC_EXTENSIONS[base.encode.codec]
    template = request.template or (PLAYER_TEMPLATE if request.name_for_players else DEFAULT_TEMPLATE)
    stem = source_stem(source) if sequence else source.stem
    try:
        name = template.format(stem=stem, layout=base.layout, ext=ext, name=stem if sequence else source.name)
    except (KeyError, IndexError, ValueError) as exc:
        raise UsageError(f"cannot use the output template {template!r} ({exc})",
                         hint="Use the fields {stem}, {layout}, {ext} and {name}") from exc
    if not name or "/" in name or name in (".", ".."):
        raise UsageError(f"the output template {template!r} gives the name {name!r}",
                         hint="A template names one file, e.g. {stem}_{layout}{ext}")
    out = Path(name)
    return (player_name(out, base.layout, base.vr180) if request.name_for_players else out).name


# ------------------------------------------------------------------------------------ resume


def expected_frames(request: ConvertRequest) -> int:
    """How many frames the conversion of `request` writes (its plan's range; 1 for a still)."""
    from engine.jobs.plan import _frame_range
    from engine.media import open_media

    with open_media(request.input, cache_size=0, **media_options(request)) as reader:
        if reader.info.is_still:
            return 1
        start, end = _frame_range(request, reader)
        return end - start


def is_complete(output: Path, frames: int) -> bool:
    """The output exists, opens, and holds `frames` frames (a still: it decodes)."""
    from engine.media import probe

    if not output.is_file():
        return False
    try:
        info = probe(output)
    except MediaError:
        return False
    return info.video.frame_count == frames


def resume_reason(request: ConvertRequest) -> str | None:
    """Why this conversion can be skipped under --resume (its outputs are complete), else None."""
    outputs = output_paths(request.output, request.layout)
    if not all(p.exists() for p in outputs):
        return None
    try:
        frames = expected_frames(request)
    except SpatialDreamerError:
        return None  # the conversion itself will say what is wrong with the input
    if all(is_complete(p, frames) for p in outputs):
        return f"output exists and is complete ({frames} frame{'s' if frames != 1 else ''})"
    return None


# ------------------------------------------------------------------------------------ the job


def plan_items(request: BatchRequest, media: list[tuple[Path, Path]]) -> list[tuple[Path, Path | None, str]]:
    """(input, output or None, reason when None) per input: two inputs may not share an output."""
    taken: dict[str, Path] = {}
    items = []
    for path, rel in media:
        output = request.output_dir / rel / output_name(request, path)
        first = taken.setdefault(os.path.normcase(os.path.abspath(output)), path)
        if first is not path:
            items.append((path, None, f"its output {output} is also the output of {first}; "
                                      "use a template with {name}, or --recursive"))
        else:
            items.append((path, output, ""))
    return items


def failure_reason(exc: SpatialDreamerError, source: Path) -> str:
    """The one-line error without the input's own path in front (the summary names the input)."""
    if exc.path is None or Path(exc.path) != Path(source):
        return exc.one_line()
    return f"{exc.message.rstrip('.')}. {exc.hint}" if exc.hint else exc.message


def _prepare_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder ({exc.strerror or exc})", path=folder,
                          hint="Choose a folder you can write to") from exc


def _convert_one(request: ConvertRequest, cancel: CancelToken) -> Iterator[Progress]:
    from engine.jobs.convert import convert

    yield from convert(request, cancel)


def batch(request: BatchRequest, cancel: CancelToken | None = None) -> Generator[Progress, None, BatchReport]:
    """Convert every media input; a generator of Progress returning the BatchReport.

    Raises:
        InputError: an input path that does not exist, or no media file in the selection.
        OutputError: the output folder cannot be created.
        Cancelled: the user stopped the batch (finished outputs stay).
    """
    cancel = cancel or CancelToken()
    if request.output_dir.exists() and not request.output_dir.is_dir():
        raise UsageError("a batch writes into a folder, and -o is a file", path=request.output_dir,
                         hint="Give -o an output folder")
    media, not_media = select_inputs(request)
    report = BatchReport(request.output_dir, not_media=not_media)
    if not media:
        where = ", ".join(str(p) for p in request.inputs)
        raise InputError(f"no media files to convert in {where}" + (f" matching {request.glob!r}" if request.glob
                                                                    else ""),
                         hint="Check the folder, --glob and --recursive" + (
                             f" ({len(not_media)} file(s) skipped as not media)" if not_media else ""))
    all_inputs = tuple(f for path, _ in media for f in input_files(path))  # each sequence's frames too
    items = plan_items(request, media)
    for k, (path, output, clash) in enumerate(items):
        cancel.check()
        yield Progress("batch", k, len(items), message=f"[{k + 1}/{len(items)}] {path}")
        yield Progress("note", 0, 0, message=f"[{k + 1}/{len(items)}] {path}" + (f" -> {output}" if output else ""))
        if output is None:
            report.items.append(BatchItem(path, (), "failed", clash, OutputError.exit_code))
            continue
        item = replace(request.base, input=path, output=output, also_reads=all_inputs)
        outputs = output_paths(output, item.layout)
        reason = resume_reason(item) if request.resume else None
        if reason is not None:
            report.items.append(BatchItem(path, outputs, "skipped", reason))
            continue
        _prepare_folder(output.parent)
        try:
            yield from _convert_one(item, cancel)
        except Cancelled:
            raise
        except SpatialDreamerError as exc:
            report.items.append(BatchItem(path, outputs, "failed", failure_reason(exc, path), exc.exit_code))
            yield Progress("note", 0, 0, message=f"failed: {exc.one_line()}")
            continue
        report.items.append(BatchItem(path, outputs, "done"))
    yield Progress("batch", len(items), len(items))
    return report


def is_batch(inputs: tuple[Path, ...], as_sequence: bool = False, as_batch: bool = False) -> bool:
    """Whether `convert INPUT...` is a batch: several inputs, or one folder that is not one numbered run
    of stills (`as_batch` / `as_sequence` force either for a folder)."""
    if as_sequence and as_batch:
        raise UsageError("--as-sequence and --as-batch exclude each other")
    if len(inputs) > 1:
        if as_sequence:
            raise UsageError("--as-sequence takes one folder or pattern", hint="Give a single INPUT")
        return True
    if len(inputs) == 1 and Path(inputs[0]).is_dir():
        return as_batch or (not as_sequence and folder_run(Path(inputs[0])) is None)
    return False


__all__ = ["BatchItem", "BatchReport", "BatchRequest", "DEFAULT_TEMPLATE", "MEDIA_EXTENSIONS", "batch", "is_batch",
           "output_name", "resume_reason", "select_inputs"]
