"""Projects without the studio: `project new` (media -> Project.2 with shots and default grades) and
`project show` (a summary of clips, shots, grades and render settings, as a ProjectSummary.1 dict).

    project = yield from new_project("reel.mov", shots="auto", cancel=token)   # generator of Progress
    summary = project_summary(project)                                         # JSON-ready dict
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import asdict
from pathlib import Path

from engine.document import Grade, Project, Shot, StereoParams
from engine.document.grade import GRADE_TRACKS
from engine.errors import InputError
from engine.media import open_media
from engine.progress import CancelToken, Progress
from engine.shots import ShotDetectConfig, cuts_to_ranges, detect_cuts, edl_to_project, otio_to_project
from engine.versioning import register_format

SUMMARY_SCHEMA = register_format("ProjectSummary", 1)


def default_shots(ranges: list[tuple[int, int]]) -> tuple[Shot, ...]:
    """One shot per [start, end) range, named Shot 001…, the default grade keyed at its first frame."""
    return tuple(Shot(a, b, Grade.constant(StereoParams(), a), name=f"Shot {i:03d}")
                 for i, (a, b) in enumerate(ranges, start=1))


def new_project(media: str | Path, shots: str = "auto", name: str = "",
                detect: ShotDetectConfig | None = None,
                cancel: CancelToken | None = None) -> Generator[Progress, None, Project]:
    """A one-clip Project.2 for `media`: shots detected (`auto`), one shot (`off`), or the cuts of an
    .otio / .edl (an .otio of ours brings its grades); ungraded shots get the default grade keyed.

    A generator of Progress("shots", done, total); its return value is the Project.
    Raises:
        MediaError: the media cannot be opened. InvalidProject: the edit file is unreadable.
    """
    cancel = cancel or CancelToken()
    media = Path(media)
    if not media.is_file():
        raise InputError("no such media file", path=media, hint="Check the path")
    with open_media(media) as reader:
        video = reader.info.video
        count = len(reader)
        if shots in ("auto", "off"):
            cuts = [] if shots == "off" or count < 2 else (
                yield from detect_cuts(reader, detect or ShotDetectConfig(), 0, count, cancel))
            found = default_shots(cuts_to_ranges(cuts, 0, count))
        else:
            edit = Path(shots)
            notes: list[str] = []
            loader = edl_to_project if edit.suffix.lower() == ".edl" else otio_to_project
            found = tuple(s if s.grade.is_keyed else Shot(s.start, s.end, Grade.constant(StereoParams(), s.start),
                                                          s.name or f"Shot {i:03d}", s.strokes, s.windows)
                          for i, s in enumerate(loader(edit, media, notes=notes).clip().shots, start=1))
            for note in notes:
                yield Progress("note", 0, 0, message=f"{edit.name}: {note}")
    return Project.single(str(media.resolve()), video.fps, count, found, name=name or media.stem,
                          clip_name=media.stem)


def _grade_row(shot: Shot) -> dict:
    """The shot's grade at its first frame, and how many keyframes each track has."""
    p = shot.grade.at(shot.start)
    return {"divergence": p.divergence, "convergence": p.convergence, "near": p.curve.near, "far": p.curve.far,
            "gamma": p.curve.gamma, "keyframes": {t: len(shot.grade.track(t)) for t in GRADE_TRACKS}}


def project_summary(project: Project) -> dict:
    """Clips, shots (numbered from 1 as `shots` prints them), grades and render settings (ProjectSummary.1)."""
    clips = []
    for number, clip in enumerate(project.clips, start=1):
        shots = [{"shot": i, "name": s.name, "start": s.start, "end": s.end, "frames": len(s),
                  "graded": s.grade.is_keyed, "strokes": len(s.strokes), "windows": len(s.windows),
                  "grade": _grade_row(s)} for i, s in enumerate(clip.shots, start=1)]
        clips.append({"number": number, "id": clip.id, "name": clip.name, "media": clip.media,
                      "media_found": Path(clip.media).is_file(),
                      "fps": f"{clip.fps.numerator}/{clip.fps.denominator}", "frame_count": clip.frame_count,
                      "shots": shots})
    return {"schema": SUMMARY_SCHEMA, "name": project.name, "clips": clips, "render": asdict(project.render),
            "queue": [{"id": j.id, "clip": j.clip, "start": j.start, "end": j.end, "output": j.output,
                       "state": j.state, "label": j.label} for j in project.queue]}


def format_summary(summary: dict) -> str:
    """A ProjectSummary.1 as text: one table of shots per clip, then the render settings."""
    lines = [f"project {summary['name']!r}: {len(summary['clips'])} clip(s)"]
    for clip in summary["clips"]:
        missing = "" if clip["media_found"] else "  [MEDIA MISSING]"
        lines.append(f"clip {clip['number']} ({clip['id']}{', ' + clip['name'] if clip['name'] else ''}): "
                     f"{clip['media']}{missing}, {clip['frame_count']} frames at {clip['fps']} fps")
        lines.append(f"  {'shot':>4}  {'start':>6}  {'end':>6}  {'frames':>6}  {'D %':>5}  {'c':>5}  {'near':>4}  "
                     f"{'far':>4}  {'gamma':>5}  {'keys':>4}  name")
        for s in clip["shots"]:
            g = s["grade"]
            keys = sum(g["keyframes"].values())
            lines.append(f"  {s['shot']:>4}  {s['start']:>6}  {s['end']:>6}  {s['frames']:>6}  "
                         f"{g['divergence']:>5.2f}  {g['convergence']:>5.3f}  {g['near']:>4.2f}  {g['far']:>4.2f}  "
                         f"{g['gamma']:>5.2f}  "
                         f"{keys:>4}  {s['name']}{'' if s['graded'] else ' (ungraded)'}")
    r = summary["render"]
    lines.append("render: " + ", ".join(f"{k}={v}" for k, v in r.items() if v not in (None, "")))
    if summary["queue"]:
        lines.append(f"queue: {len(summary['queue'])} job(s): " + ", ".join(
            f"{j['id']} {j['state']} {j['label'] or j['output']}" for j in summary["queue"]))
    return "\n".join(lines)
