"""Projects <-> OpenTimelineIO timelines, and CMX 3600 EDL import (pure Python: no torch, av, cv2).

RationalTime lives only at this boundary; everywhere else positions are integer source frames.

Written timelines: one video track whose clips sit at their source positions (gaps where no shot
is), one Clip per shot with `source_range` at the project fps, an ExternalReference to the media
(available_range = the whole media, starting at 0) and the shot's grade keyframes under
``clip.metadata["spatialdreamer"] = {"schema": "OtioShot.2", "shot": {...}}`` (the shot exactly as a
``.sdproj`` stores it: grade tracks, depth-edit strokes, floating windows); the project itself under
``timeline.metadata["spatialdreamer"] = {"schema": "OtioProject.2", ...}`` (clip id and name, render
settings). A timeline holds one clip of a project (one media file).
Keyframe frames are source frames, so trimming a clip in an editor leaves them meaningful.

Reading any timeline: shots come from the source ranges of the clips (every video track) that
refer to the media; source times are measured from the media reference's available_range start
(an editor's media starting at its timecode), or from `start_timecode` for an EDL. Clips of other
media, generators, transitions, speed effects and overlaps are skipped or simplified, each with a
note appended to `notes` when a list is given.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path, PurePath
from typing import Any

import opentimelineio as otio
from opentimelineio import url_utils

from engine.document.grade import Grade
from engine.document.project import Clip, Project, Shot
from engine.document.schema import (
    CONTENT_ERRORS,
    rehome_strokes,
    settings_from_dict,
    settings_to_dict,
    shot_from_dict,
    shot_to_dict,
    tracks_from_v1,
)
from engine.document.timecode import timecode_to_frames
from engine.errors import InvalidProject, OutputError, SpatialDreamerError
from engine.fileio import atomic_write_bytes
from engine.versioning import upgrade, upgrade_to_current

NAMESPACE = "spatialdreamer"
PROJECT_SCHEMA, PROJECT_VERSION = "OtioProject", 2
SHOT_SCHEMA, SHOT_VERSION = "OtioShot", 2
_PARSE_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError, otio.exceptions.OTIOError)
_EDL_TIMECODE = re.compile(r"\b(\d{1,2}:\d{2}:\d{2})[:;.,](\d{2,3})\b")


# ---------------------------------------------------------------- upgrades


@upgrade(SHOT_SCHEMA, 1)
def _shot_1_to_2(data: dict) -> dict:
    """OtioShot.1 stored D/c keyframes only; OtioShot.2 the whole shot (range filled in from the clip)."""
    return {"schema": data["schema"], "shot": {"tracks": tracks_from_v1(data["keyframes"])}}


@upgrade(PROJECT_SCHEMA, 1)
def _project_1_to_2(data: dict) -> dict:
    """OtioProject.2 adds the clip's id and name and the project's render settings (defaults here)."""
    return {**data, "clip_id": "c1", "clip_name": "", "render": {}}


# ---------------------------------------------------------------- writing


def _rt(frames: int, fps: Fraction) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, float(fps))


def _range(start: int, duration: int, fps: Fraction) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(_rt(start, fps), _rt(duration, fps))


def _media_url(media: str) -> str:
    """Absolute paths become file:// URLs; relative ones stay relative (forward slashes)."""
    path = PurePath(media)
    return url_utils.url_from_filepath(str(path)) if path.is_absolute() else path.as_posix()


def _shot_clip(source: Clip, index: int, shot: Shot) -> otio.schema.Clip:
    reference = otio.schema.ExternalReference(target_url=_media_url(source.media),
                                              available_range=_range(0, source.frame_count, source.fps))
    clip = otio.schema.Clip(name=shot.name or f"Shot {index:03d}", media_reference=reference,
                            source_range=_range(shot.start, len(shot), source.fps))
    clip.metadata[NAMESPACE] = {"schema": f"{SHOT_SCHEMA}.{SHOT_VERSION}", "shot": shot_to_dict(shot)}
    return clip


def project_to_otio(project: Project, clip: str | int | None = None) -> otio.schema.Timeline:
    """One clip of `project` (None: its only clip) as one video track: clips at their source positions
    (gaps between shots), our data in metadata."""
    source = project.clip(clip)
    timeline = otio.schema.Timeline(name=project.name or source.name or PurePath(source.media).stem)
    timeline.metadata[NAMESPACE] = {
        "schema": f"{PROJECT_SCHEMA}.{PROJECT_VERSION}", "name": project.name, "media": source.media,
        "fps": f"{source.fps.numerator}/{source.fps.denominator}", "frame_count": source.frame_count,
        "clip_id": source.id, "clip_name": source.name, "render": settings_to_dict(project.render, None)}
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    position = 0
    for index, shot in enumerate(source.shots, start=1):
        if shot.start > position:
            track.append(otio.schema.Gap(source_range=_range(0, shot.start - position, source.fps)))
        track.append(_shot_clip(source, index, shot))
        position = shot.end
    timeline.tracks.append(track)
    return timeline


def write_otio(project: Project, path: str | Path, clip: str | int | None = None) -> None:
    """Write one clip of `project` as an .otio (OTIO JSON) file, atomically; OutputError naming the file."""
    text = otio.adapters.write_to_string(project_to_otio(project, clip), "otio_json")
    try:
        atomic_write_bytes(path, text.encode("utf-8"))
    except OSError as exc:
        raise OutputError(f"cannot write the OTIO file ({exc.strerror or exc})", path=path,
                          hint="Check that the folder exists and is writable") from exc


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Source:
    """What a reader knows about the media the timeline should be matched against."""

    media: str
    fps: Fraction
    origin: int  # source frame 0 in the clips' time (for references without an available_range)
    accept_unnamed: bool  # EDL events with no clip name belong to the media
    path: str | None  # the file being read, for errors


def _to_plain(value: Any) -> Any:
    """OTIO AnyDictionary / AnyVector -> dict / list, recursively."""
    if isinstance(value, otio.core.SerializableObject):
        return value
    if hasattr(value, "items"):
        return {str(k): _to_plain(v) for k, v in value.items()}
    if isinstance(value, str | bytes):
        return value
    if hasattr(value, "__iter__"):
        return [_to_plain(v) for v in value]
    return value


def _our_metadata(metadata: Any, name: str, version: int, path: str | None) -> dict | None:
    """Our block of `metadata`, upgraded to `name.<version>`; None when absent."""
    block = metadata.get(NAMESPACE) if hasattr(metadata, "get") else None
    if block is None:
        return None
    data = _to_plain(block)
    if not isinstance(data, dict):
        raise InvalidProject(f"metadata['{NAMESPACE}'] is not a dictionary", path=path)
    return upgrade_to_current(data, name, version, path=path)


def _rate_to_fps(rate: float) -> Fraction:
    """OTIO's float rate as an exact frame rate (29.97002997 -> 30000/1001, 24.0 -> 24)."""
    ntsc = round(rate * 1.001)
    if abs(rate - ntsc * 1000 / 1001) < 5e-4 and abs(rate - round(rate)) > 5e-4:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(rate).limit_denominator(1001)


def _frames(t: otio.opentime.RationalTime, fps: Fraction) -> int:
    """A RationalTime as whole frames at `fps` (values at a rate within 0.01 % of fps are taken as is)."""
    if abs(t.rate - float(fps)) <= 1e-4 * float(fps):
        return round(t.value)
    return round(Fraction(t.value) / Fraction(t.rate) * fps)


def _reference_path(clip: otio.schema.Clip) -> str | None:
    reference = clip.media_reference
    if isinstance(reference, otio.schema.ExternalReference) and reference.target_url:
        return url_utils.filepath_from_url(reference.target_url)
    return None


def _same_media(a: str, b: str) -> bool:
    """Same file: equal normalised paths or equal file names (an editor may relink folders)."""
    pa, pb = PurePath(a.replace("\\", "/")), PurePath(b.replace("\\", "/"))
    return pa == pb or pa.name.casefold() == pb.name.casefold()


def _belongs(clip: otio.schema.Clip, media: str, accept_unnamed: bool) -> bool:
    """Whether `clip` uses `media`: by its reference's path, else (no reference) by its name."""
    reference = clip.media_reference
    path = _reference_path(clip)
    if path is not None:
        return _same_media(path, media)
    if reference is not None and not isinstance(reference, otio.schema.MissingReference):
        return False  # generators (black, bars), image sequences, other reference kinds
    name = clip.name.strip()
    file = PurePath(media.replace("\\", "/"))
    if name.casefold() in (file.name.casefold(), file.stem.casefold()):
        return True
    return accept_unnamed and (name == "" or name.isdigit())


def _origin(clip: otio.schema.Clip, source: _Source) -> otio.opentime.RationalTime:
    reference = clip.media_reference
    available = getattr(reference, "available_range", None) if reference is not None else None
    if isinstance(reference, otio.schema.ExternalReference) and available is not None:
        return available.start_time
    return _rt(source.origin, source.fps)


def _graded_shot(clip: otio.schema.Clip, start: int, end: int, path: str | None) -> Shot:
    """The shot [start, end) with the grade, strokes and windows our metadata stores (an ungraded
    shot, empty tracks, when the clip has none: the job's constant grade applies to it)."""
    data = _our_metadata(clip.metadata, SHOT_SCHEMA, SHOT_VERSION, path)
    if data is None:
        return Shot(start, end, Grade(), name=clip.name)
    try:
        stored = shot_from_dict({**data["shot"], "start": start, "end": end, "name": clip.name})
    except CONTENT_ERRORS as exc:
        raise InvalidProject(f"grade of clip {clip.name!r} is invalid ({type(exc).__name__}: {exc})",
                             path=path) from exc
    return stored


def _video_items(timeline: otio.schema.Timeline) -> Iterator[Any]:
    for track in timeline.tracks:
        if isinstance(track, otio.schema.Track) and track.kind == otio.schema.TrackKind.Video:
            yield from track


def _clip_shot(clip: otio.schema.Clip, source: _Source, frame_count: int | None,
               notes: list[str]) -> Shot | None:
    """The shot a matching clip covers, clamped to the media; None (with a note) if nothing is left."""
    trimmed = clip.trimmed_range()
    origin = _origin(clip, source)
    start = _frames(trimmed.start_time, source.fps) - _frames(origin, source.fps)
    end = start + _frames(trimmed.duration, source.fps)
    lo, hi = max(start, 0), end if frame_count is None else min(end, frame_count)
    if hi <= lo:
        notes.append(f"clip {clip.name!r}: source frames [{start}, {end}) are outside the media; skipped")
        return None
    if (lo, hi) != (start, end):
        notes.append(f"clip {clip.name!r}: source frames [{start}, {end}) trimmed to the media, [{lo}, {hi})")
    if clip.effects:
        notes.append(f"clip {clip.name!r}: effects (speed changes, freeze frames) ignored")
    return _graded_shot(clip, lo, hi, source.path)


def _collect_shots(timeline: otio.schema.Timeline, source: _Source, frame_count: int | None,
                   notes: list[str]) -> list[Shot]:
    shots: list[Shot] = []
    for item in _video_items(timeline):
        if isinstance(item, otio.schema.Transition):
            notes.append(f"transition {item.name or item.transition_type!r} treated as a cut")
        elif isinstance(item, otio.schema.Clip):
            if _belongs(item, source.media, source.accept_unnamed):
                shot = _clip_shot(item, source, frame_count, notes)
                shots += [shot] if shot is not None else []
            else:
                notes.append(f"clip {item.name!r} uses other media ({_describe_reference(item)}); ignored")
        elif not isinstance(item, otio.schema.Gap):
            notes.append(f"{type(item).__name__} {item.name!r} (nested composition) ignored")
    return _without_overlaps(shots, notes)


def _describe_reference(clip: otio.schema.Clip) -> str:
    """The source a clip uses, for notes and errors: a file name, 'generator black', 'no media reference'."""
    path = _reference_path(clip)
    if path is not None:
        return PurePath(path.replace("\\", "/")).name
    reference = clip.media_reference
    if reference is None or isinstance(reference, otio.schema.MissingReference):
        return "no media reference"
    kind = getattr(reference, "generator_kind", None)
    return f"generator {kind}" if kind else type(reference).__name__


def _without_overlaps(shots: list[Shot], notes: list[str]) -> list[Shot]:
    """Sorted by start; a shot that reuses frames of an earlier kept shot is skipped with a note."""
    kept: list[Shot] = []
    for shot in sorted(shots, key=lambda s: (s.start, s.end)):
        if kept and shot.start < kept[-1].end:
            notes.append(f"clip {shot.name!r} [{shot.start}, {shot.end}) overlaps {kept[-1].name!r} "
                         f"[{kept[-1].start}, {kept[-1].end}); skipped (a project uses each frame once)")
        else:
            kept.append(shot)
    return kept


def _first_media(timeline: otio.schema.Timeline) -> str | None:
    for item in _video_items(timeline):
        if isinstance(item, otio.schema.Clip) and (path := _reference_path(item)) is not None:
            return path
    return None


def _first_rate(timeline: otio.schema.Timeline, media: str) -> float | None:
    for item in _video_items(timeline):
        if isinstance(item, otio.schema.Clip) and _belongs(item, media, accept_unnamed=False):
            return item.trimmed_range().duration.rate
    return None


def _available_frames(timeline: otio.schema.Timeline, media: str, fps: Fraction) -> int | None:
    for item in _video_items(timeline):
        path = _reference_path(item) if isinstance(item, otio.schema.Clip) else None
        if path and _same_media(path, media) and item.media_reference.available_range is not None:
            return _frames(item.media_reference.available_range.duration, fps)
    return None


def _media_facts(timeline: otio.schema.Timeline, ours: dict | None, media: str, fps: Fraction | None,
                 frame_count: int | None, path: str | None) -> tuple[Fraction, int | None]:
    """fps and frame count of `media`: as given, else from our metadata, else from the matching clips."""
    if fps is None and ours is not None:
        fps = Fraction(str(ours["fps"]))
    if fps is None:
        rate = _first_rate(timeline, media)
        if rate is None:
            raise _no_clip_of(media, timeline, path)
        fps = _rate_to_fps(rate)
    if frame_count is None and ours is not None:
        frame_count = int(ours["frame_count"])
    if frame_count is None:
        frame_count = _available_frames(timeline, media, fps)
    return Fraction(fps), frame_count


def _timeline_to_project(timeline: otio.schema.Timeline, media_path: str | None, fps: Fraction | None,
                         frame_count: int | None, notes: list[str], path: str | None) -> Project:
    ours = _our_metadata(timeline.metadata, PROJECT_SCHEMA, PROJECT_VERSION, path)
    media = media_path or (ours or {}).get("media") or _first_media(timeline)
    if not media:
        raise InvalidProject("no clip in the timeline refers to a media file", path=path,
                             hint="Give the media path the timeline should be matched against")
    media = str(media)
    ours = ours if ours is not None and _same_media(str(ours.get("media", "")), media) else None
    try:
        fps, frame_count = _media_facts(timeline, ours, media, fps, frame_count, path)
        source = _Source(media, fps, 0, False, path)
        shots = _collect_shots(timeline, source, frame_count, notes)
    except (*_PARSE_ERRORS, ZeroDivisionError) as exc:
        raise InvalidProject(f"timeline content is invalid ({type(exc).__name__}: {exc})", path=path) from exc
    return _project(ours, timeline, source, frame_count, shots)


def _media_seen(timeline: otio.schema.Timeline) -> str:
    """' (its clips use: a.mov, generator black)' — the distinct sources of the video clips, for errors."""
    seen = list(dict.fromkeys(_describe_reference(item) for item in _video_items(timeline)
                              if isinstance(item, otio.schema.Clip)))
    if not seen:
        return " (it has no video clips)"
    return f" (its clips use: {', '.join(seen[:4])}{', ...' if len(seen) > 4 else ''})"


def _no_clip_of(media: str, timeline: otio.schema.Timeline, path: str | None) -> InvalidProject:
    return InvalidProject(f"no clip in the timeline uses {PurePath(media).name}{_media_seen(timeline)}",
                          path=path, hint="Check the media path, or relink the clips in the editor")


def _project(ours: dict | None, timeline: otio.schema.Timeline, source: _Source, frame_count: int | None,
             shots: list[Shot]) -> Project:
    if not shots:
        raise _no_clip_of(source.media, timeline, source.path)
    name = str(ours.get("name", "")) if ours else timeline.name or ""
    count = frame_count if frame_count is not None else max(s.end for s in shots)
    ours = ours or {}
    try:
        render = settings_from_dict(ours.get("render", {}), None)
        clip = Clip(str(ours.get("clip_id") or "c1"), source.media, source.fps, count, tuple(shots),
                    str(ours.get("clip_name", "")))
    except CONTENT_ERRORS as exc:
        raise InvalidProject(f"timeline content is invalid ({type(exc).__name__}: {exc})", path=source.path) from exc
    return Project((rehome_strokes(clip),), name=name, render=render)


def project_from_otio(timeline: otio.schema.Timeline, media_path: str | None = None, *,
                      fps: Fraction | None = None, frame_count: int | None = None,
                      notes: list[str] | None = None) -> Project:
    """A project from the clips of `timeline` that use `media_path`.

    Args:
        timeline: any OTIO timeline (ours restores keyframes; others get the default grade per shot).
        media_path: the media to match clips against; default: the one our metadata names, else the
            first clip's media reference.
        fps: the media's frame rate; default: our metadata, else the rate of the first matching clip.
        frame_count: frames in the media; default: our metadata, else the reference's available_range,
            else the end of the last shot.
        notes: when given, one line is appended per clip skipped or simplified.
    Raises:
        InvalidProject: no clip uses the media, or our metadata is malformed or from a newer version.
    """
    collected = notes if notes is not None else []
    return _timeline_to_project(timeline, media_path, fps, frame_count, collected, None)


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InvalidProject(f"{what} file not found", path=path) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidProject(f"not a readable {what} file ({exc})", path=path) from exc


def read_otio(path: str | Path, media_path: str | None = None, *, fps: Fraction | None = None,
              frame_count: int | None = None, notes: list[str] | None = None) -> Project:
    """Read an .otio (OTIO JSON) file as a project (arguments as :func:`project_from_otio`).

    Raises:
        InvalidProject: naming the file — unreadable, not OTIO JSON, not a Timeline, no clip of the
            media, or our metadata malformed / from a newer version.
    """
    path = Path(path)
    text = _read_text(path, "OTIO")
    try:
        timeline = otio.adapters.read_from_string(text, "otio_json")
    except _PARSE_ERRORS as exc:
        raise InvalidProject(f"not a valid OTIO file ({exc})", path=path,
                             hint="Export the timeline again as OpenTimelineIO (.otio)") from exc
    if not isinstance(timeline, otio.schema.Timeline):
        raise InvalidProject(f"the file holds a {type(timeline).__name__}, not an OTIO Timeline", path=path)
    collected = notes if notes is not None else []
    return _timeline_to_project(timeline, media_path, fps, frame_count, collected, str(path))


# ---------------------------------------------------------------- EDL


def apply_frame_code_mode(text: str) -> str:
    """Mark drop-frame timecodes with ';' where the EDL says ``FCM: DROP FRAME`` but writes ':'.

    The OTIO adapter reads drop-frame only from the ';' separator and ignores FCM lines; in CMX 3600
    an FCM line sets the frame code mode of the events that follow it.
    """
    lines, drop = [], False
    for line in text.splitlines():
        head = line.strip().upper()
        if head.startswith("FCM"):
            drop = "DROP" in head and "NON" not in head
        elif drop and head[:1].isdigit():
            line = _EDL_TIMECODE.sub(r"\1;\2", line)
        lines.append(line)
    return "\n".join(lines) + "\n"


def _parse_edl(text: str, fps: Fraction, path: Path) -> otio.schema.Timeline:
    if ";" in text and round(fps) not in (30, 60):
        raise InvalidProject(f"the EDL uses drop-frame timecode, which needs 29.97 or 59.94 fps, "
                             f"not {float(fps):g}", path=path, hint="Give the media's real frame rate")
    try:
        return otio.adapters.read_from_string(text, "cmx_3600", rate=float(fps))
    except otio.exceptions.NotSupportedError as exc:
        raise SpatialDreamerError("CMX 3600 EDL support is not installed", path=path,
                                  hint="pip install otio-cmx3600-adapter") from exc
    except _PARSE_ERRORS as exc:
        raise InvalidProject(f"not a valid CMX 3600 EDL ({exc})", path=path,
                             hint=f"Check the file, and that {float(fps):g} fps is its frame rate") from exc


def read_edl(path: str | Path, fps: Fraction, media_path: str, *, start_timecode: str | None = None,
             frame_count: int | None = None, notes: list[str] | None = None) -> Project:
    """A project from the video events of a CMX 3600 EDL that use `media_path`.

    Source in/out timecodes are read against the media's `start_timecode` (00:00:00:00 when None);
    ';' separators or ``FCM: DROP FRAME`` mean drop-frame. Events belong to the media when their
    ``FROM CLIP NAME`` / ``FROM CLIP`` / ``FROM FILE`` names its file (or stem), or name nothing;
    black, bars and other sources are skipped with a note; dissolves are treated as cuts.

    Args:
        fps: the media's frame rate (the EDL's timecode rate).
        frame_count: frames in the media (shots are clamped to it); None: the end of the last event.
    """
    path = Path(path)
    fps = Fraction(fps)
    text = apply_frame_code_mode(_read_text(path, "EDL"))
    timeline = _parse_edl(text, fps, path)
    if not any(len(track) for track in timeline.tracks):
        raise InvalidProject("the EDL has no events", path=path)
    try:
        origin = timecode_to_frames(start_timecode, fps) if start_timecode else 0
    except SpatialDreamerError as exc:
        raise InvalidProject(f"media start timecode {start_timecode!r} is unusable ({exc.message})",
                             path=path) from exc
    source = _Source(str(media_path), fps, origin, True, str(path))
    try:
        shots = _collect_shots(timeline, source, frame_count, notes if notes is not None else [])
    except _PARSE_ERRORS as exc:
        raise InvalidProject(f"EDL content is invalid ({type(exc).__name__}: {exc})", path=str(path)) from exc
    return _project(None, timeline, source, frame_count, shots)
