"""Edits of a Project as pure functions: each returns a new Project and leaves its input untouched.

Undo is keeping the previous Project (the studio's QUndoCommands hold the before/after pair). Clips
are addressed by id, shots by their index in the clip, tracks by name: the grade's
``divergence``/``convergence``/``near``/``far``/``gamma`` and the floating windows' ``window_left``/
``window_right``. A refused edit raises ValueError (a value out of range, a frame outside the
shot) or KeyError (no such clip, shot, keyframe, stroke or job) with a one-line message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from engine.document.grade import GRADE_TRACKS, TRACK_DEFAULTS, Grade, Keyframe, StereoParams, Track
from engine.document.project import (
    JOB_STATES,
    WINDOW_EDGES,
    WINDOW_TRACKS,
    Clip,
    Project,
    RenderJob,
    RenderSettings,
    Shot,
    Stroke,
    WindowTrack,
)
from engine.document.schema import rehome_strokes

TRACKS = GRADE_TRACKS + WINDOW_TRACKS


# ---------------------------------------------------------------- addressing


def next_id(prefix: str, taken: Sequence[str]) -> str:
    """The first ``<prefix><n>`` (n = 1, 2 …) after every id of that form in `taken`."""
    numbers = [int(t[len(prefix):]) for t in taken if t.startswith(prefix) and t[len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1}"


def get_shot(project: Project, clip: str, shot: int) -> Shot:
    shots = project.clip(clip).shots
    if not 0 <= shot < len(shots):
        raise KeyError(f"clip {clip} has no shot {shot + 1} (it has {len(shots)})")
    return shots[shot]


def with_clip(project: Project, clip: Clip) -> Project:
    """`project` with the clip of the same id replaced by `clip`."""
    clips = list(project.clips)
    clips[project.clip_index(clip.id)] = clip
    return replace(project, clips=tuple(clips))


def with_shots(project: Project, clip: str, shots: Sequence[Shot]) -> Project:
    return with_clip(project, replace(project.clip(clip), shots=tuple(shots)))


def with_shot(project: Project, clip: str, index: int, shot: Shot) -> Project:
    get_shot(project, clip, index)
    shots = list(project.clip(clip).shots)
    shots[index] = shot
    return with_shots(project, clip, shots)


def get_track(shot: Shot, name: str) -> Track:
    """A grade track or a floating-window track of `shot` by name."""
    if name in WINDOW_TRACKS:
        return shot.window(name.removeprefix("window_"))
    if name not in GRADE_TRACKS:
        raise KeyError(f"unknown track {name!r}; tracks are {', '.join(TRACKS)}")
    return shot.grade.track(name)


def set_track(shot: Shot, name: str, track: Track) -> Shot:
    """`shot` with track `name` replaced (a window track with no keyframes is removed)."""
    if name not in WINDOW_TRACKS:
        get_track(shot, name)
        return replace(shot, grade=shot.grade.with_track(name, track))
    edge = name.removeprefix("window_")
    others = tuple(w for w in shot.windows if w.edge != edge)
    windows = others + ((WindowTrack(edge, track),) if len(track) else ())
    return replace(shot, windows=tuple(sorted(windows, key=lambda w: w.edge)))


def _edit_track(project: Project, clip: str, shot: int, name: str, fn) -> Project:
    s = get_shot(project, clip, shot)
    return with_shot(project, clip, shot, set_track(s, name, fn(get_track(s, name), s)))


def _check_frame(s: Shot, frame: int) -> None:
    if not s.contains(frame):
        raise ValueError(f"frame {frame} is outside the shot [{s.start}, {s.end})")


# ---------------------------------------------------------------- keyframes


def add_keyframe(project: Project, clip: str, shot: int, track: str, frame: int, value: float,
                 interpolation: str | None = None) -> Project:
    """Key `track` at `frame` (replacing a keyframe there; its interpolation kept unless given)."""

    def edit(t: Track, s: Shot) -> Track:
        _check_frame(s, frame)
        old = t.key_at(frame)
        interp = interpolation or (old.interpolation if old else "linear")
        return t.with_keyframe(Keyframe(frame, float(value), interp))

    return _edit_track(project, clip, shot, track, edit)


def set_value(project: Project, clip: str, shot: int, track: str, frame: int, value: float) -> Project:
    """The inspector's edit: the keyframe at `frame` gets `value`, or one is added there."""
    return add_keyframe(project, clip, shot, track, frame, value)


def delete_keyframe(project: Project, clip: str, shot: int, track: str, frame: int) -> Project:
    return _edit_track(project, clip, shot, track, lambda t, s: t.without_keyframe(frame))


def move_keyframe(project: Project, clip: str, shot: int, track: str, frame: int, to_frame: int) -> Project:
    """Drag a keyframe to `to_frame` inside the shot (refused onto another keyframe)."""

    def edit(t: Track, s: Shot) -> Track:
        key = t.key_at(frame)
        if key is None:
            raise KeyError(f"no {track} keyframe at frame {frame}")
        _check_frame(s, to_frame)
        if to_frame != frame and t.key_at(to_frame) is not None:
            raise ValueError(f"{track} already has a keyframe at frame {to_frame}")
        return t.without_keyframe(frame).with_keyframe(replace(key, frame=to_frame))

    return _edit_track(project, clip, shot, track, edit)


def set_interpolation(project: Project, clip: str, shot: int, track: str, frame: int,
                      interpolation: str) -> Project:
    def edit(t: Track, s: Shot) -> Track:
        key = t.key_at(frame)
        if key is None:
            raise KeyError(f"no {track} keyframe at frame {frame}")
        return t.with_keyframe(Keyframe(frame, key.value, interpolation))

    return _edit_track(project, clip, shot, track, edit)


# ---------------------------------------------------------------- copy / paste a grade


@dataclass(frozen=True)
class GradeClipboard:
    """A shot's grade and floating windows with keyframes relative to the shot's first frame."""

    grade: Grade
    windows: tuple[WindowTrack, ...]
    length: int


def copy_grade(project: Project, clip: str, shot: int) -> GradeClipboard:
    s = get_shot(project, clip, shot)
    return GradeClipboard(s.grade.map_tracks(lambda t: t.shifted(-s.start)),
                          tuple(WindowTrack(w.edge, w.track.shifted(-s.start)) for w in s.windows), len(s))


def _fit(track: Track, start: int, length: int) -> Track:
    """A clipboard track (frames from 0) placed at `start` and cut to `length` frames, values kept."""
    return track.shifted(start).within(start, start + length) if len(track) else track


def paste_grade(project: Project, clip: str, shots: Sequence[int], board: GradeClipboard) -> Project:
    """Each of `shots` gets the copied grade and windows, re-based to its first frame (cut to its length)."""
    for index in shots:
        s = get_shot(project, clip, index)
        grade = board.grade.map_tracks(lambda t, s=s: _fit(t, s.start, len(s)))
        windows = tuple(WindowTrack(w.edge, _fit(w.track, s.start, len(s))) for w in board.windows)
        project = with_shot(project, clip, index, replace(s, grade=grade, windows=windows))
    return project


# ---------------------------------------------------------------- split / join


def _within(shot: Shot, start: int, end: int) -> Shot:
    """The part [start, end) of `shot`: tracks restricted so every frame keeps its value, its strokes
    painted there, and its name (suffixed for the second part)."""
    windows = tuple(WindowTrack(w.edge, w.track.within(start, end)) for w in shot.windows)
    return Shot(start, end, shot.grade.map_tracks(lambda t: t.within(start, end)),
                shot.name if start == shot.start else (f"{shot.name} b" if shot.name else ""),
                tuple(s for s in shot.strokes if start <= s.frame < end), windows)


def split_shot(project: Project, clip: str, frame: int) -> Project:
    """Cut the shot containing `frame` so a new shot starts at `frame` (the grade of every frame kept)."""
    c = project.clip(clip)
    index = c.shot_index_at(frame)
    if index is None:
        raise ValueError(f"frame {frame} is in no shot of clip {clip}")
    s = c.shots[index]
    if frame == s.start:
        raise ValueError(f"a shot already starts at frame {frame}")
    shots = list(c.shots)
    shots[index:index + 1] = [_within(s, s.start, frame), _within(s, frame, s.end)]
    return with_clip(project, rehome_strokes(replace(c, shots=tuple(shots))))


def _joined(a: Track, b: Track, first: Shot, second: Shot, default: float) -> Track:
    """Two adjacent shots' tracks as one track with the same value on every frame (an empty track
    reads as its default value, so it is keyed with it when the other is not empty)."""
    if not len(a) and not len(b):
        return Track()
    a = (a if len(a) else Track((Keyframe(first.start, default),))).within(first.start, first.end)
    b = (b if len(b) else Track((Keyframe(second.start, default),))).within(second.start, second.end)
    last, end = a.keyframes[-1], first.end - 1
    a = a.with_keyframe(replace(last, interpolation="hold") if last.frame == end
                        else Keyframe(end, a.value_at(end, default), "hold"))
    return Track(a.keyframes + b.keyframes)


def join_shots(project: Project, clip: str, index: int) -> Project:
    """Join shot `index` with the next one (they must touch); every frame keeps its grade."""
    a, b = get_shot(project, clip, index), get_shot(project, clip, index + 1)
    if a.end != b.start:
        raise ValueError(f"shots {index + 1} and {index + 2} do not touch ([{a.start}, {a.end}) and "
                         f"[{b.start}, {b.end})); only adjacent shots join")
    grade = Grade(**{n: _joined(a.grade.track(n), b.grade.track(n), a, b, TRACK_DEFAULTS[n])
                     for n in GRADE_TRACKS})
    windows = tuple(WindowTrack(e, _joined(a.window(e), b.window(e), a, b, 0.0)) for e in WINDOW_EDGES
                    if len(a.window(e)) or len(b.window(e)))
    shot = Shot(a.start, b.end, grade, a.name or b.name, a.strokes + b.strokes, windows)
    shots = list(project.clip(clip).shots)
    shots[index:index + 2] = [shot]
    return with_shots(project, clip, shots)


def rename_shot(project: Project, clip: str, index: int, name: str) -> Project:
    return with_shot(project, clip, index, replace(get_shot(project, clip, index), name=name))


def set_cuts(project: Project, clip: str, ranges: Sequence[tuple[int, int]]) -> Project:
    """Re-cut a clip into `ranges` (e.g. detected shots): a range equal to an existing shot keeps it;
    every other range gets the default grade keyed at its first frame and the strokes of the replaced
    shots painted inside it (strokes on frames no shot covers any more are dropped)."""
    c = project.clip(clip)
    old = {(s.start, s.end): s for s in c.shots}
    replaced = [k for s in c.shots if (s.start, s.end) not in set(map(tuple, ranges)) for k in s.strokes]
    shots = tuple(old.get((a, b)) or Shot(a, b, Grade.constant(StereoParams(), a), f"Shot {i:03d}",
                                          tuple(k for k in replaced if a <= k.frame < b))
                  for i, (a, b) in enumerate(ranges, start=1))
    return with_clip(project, replace(c, shots=shots))


# ---------------------------------------------------------------- strokes (depth edits)


def add_stroke(project: Project, clip: str, shot: int, stroke: Stroke) -> Project:
    """Append `stroke` (painted on a frame of the shot) to the shot (its id must be new: new_stroke_id)."""
    s = get_shot(project, clip, shot)
    _check_frame(s, stroke.frame)
    taken = [k.id for c in project.clips for x in c.shots for k in x.strokes]
    if stroke.id in taken:
        raise ValueError(f"the project already has a stroke {stroke.id!r}; use new_stroke_id()")
    return with_shot(project, clip, shot, replace(s, strokes=s.strokes + (stroke,)))


def new_stroke_id(project: Project) -> str:
    """An id no stroke of the project has yet (``s<n>``)."""
    return next_id("s", [k.id for c in project.clips for x in c.shots for k in x.strokes])


def remove_stroke(project: Project, clip: str, shot: int, stroke_id: str) -> Project:
    s = get_shot(project, clip, shot)
    if not any(k.id == stroke_id for k in s.strokes):
        raise KeyError(f"shot {shot + 1} has no stroke {stroke_id!r}")
    return with_shot(project, clip, shot, replace(s, strokes=tuple(k for k in s.strokes if k.id != stroke_id)))


def set_stroke_visible(project: Project, clip: str, shot: int, stroke_id: str, visible: bool) -> Project:
    """Show or hide a stroke (a hidden stroke stays in the document and changes δ nowhere)."""
    s = get_shot(project, clip, shot)
    if not any(k.id == stroke_id for k in s.strokes):
        raise KeyError(f"shot {shot + 1} has no stroke {stroke_id!r}")
    strokes = tuple(replace(k, visible=bool(visible)) if k.id == stroke_id else k for k in s.strokes)
    return with_shot(project, clip, shot, replace(s, strokes=strokes))


# ---------------------------------------------------------------- clips and settings


def add_clip(project: Project, media: str, fps, frame_count: int, shots: Sequence[Shot] = (),
             name: str = "") -> tuple[Project, str]:
    """A project with a new clip appended (one shot over the whole media when `shots` is empty) and its id."""
    clip_id = next_id("c", [c.id for c in project.clips])
    shots = tuple(shots) or (Shot(0, int(frame_count), name="Shot 001"),)
    clip = Clip(clip_id, str(media), Fraction(fps), int(frame_count), shots, name)
    return replace(project, clips=project.clips + (clip,)), clip_id


def remove_clip(project: Project, clip: str) -> Project:
    """Without the clip and its queued jobs."""
    project.clip_index(clip)
    return replace(project, clips=tuple(c for c in project.clips if c.id != clip),
                   queue=tuple(j for j in project.queue if j.clip != clip))


def relink(project: Project, clip: str, media: str) -> Project:
    """Point a clip at a moved media file (grades kept)."""
    return with_clip(project, replace(project.clip(clip), media=str(media)))


def set_render_settings(project: Project, settings: RenderSettings) -> Project:
    return replace(project, render=settings)


def rename_project(project: Project, name: str) -> Project:
    return replace(project, name=name)


# ---------------------------------------------------------------- render queue


def enqueue(project: Project, clip: str, start: int, end: int, output: str, label: str = "",
            settings: RenderSettings | None = None) -> tuple[Project, str]:
    """Append a queued job rendering frames [start, end) of `clip` to `output`; returns it and its id."""
    c = project.clip(clip)
    if not 0 <= start < end <= c.frame_count:
        raise ValueError(f"range [{start}, {end}) is not inside clip {clip} (0..{c.frame_count})")
    job_id = next_id("j", [j.id for j in project.queue])
    job = RenderJob(job_id, c.id, start, end, str(output), settings or project.render, "queued", "", label)
    return replace(project, queue=project.queue + (job,)), job_id


def _with_job(project: Project, job: RenderJob) -> Project:
    return replace(project, queue=tuple(job if j.id == job.id else j for j in project.queue))


def set_job_state(project: Project, job_id: str, state: str, message: str = "") -> Project:
    if state not in JOB_STATES:
        raise ValueError(f"job state {state!r} is not one of {', '.join(JOB_STATES)}")
    return _with_job(project, replace(project.job(job_id), state=state, message=message))


def retry_job(project: Project, job_id: str) -> Project:
    """A failed or cancelled job queued again."""
    return set_job_state(project, job_id, "queued")


def remove_job(project: Project, job_id: str) -> Project:
    project.job(job_id)
    return replace(project, queue=tuple(j for j in project.queue if j.id != job_id))


def move_job(project: Project, job_id: str, position: int) -> Project:
    """The job moved to `position` in the queue (clamped to its ends)."""
    job = project.job(job_id)
    rest = [j for j in project.queue if j.id != job_id]
    rest.insert(max(0, min(position, len(rest))), job)
    return replace(project, queue=tuple(rest))


def clear_finished(project: Project) -> Project:
    """Without the jobs that are done."""
    return replace(project, queue=tuple(j for j in project.queue if j.state != "done"))


def next_queued(project: Project) -> RenderJob | None:
    """The first job waiting to run."""
    return next((j for j in project.queue if j.state == "queued"), None)
