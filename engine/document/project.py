"""The editor's document (`Project.2`) as plain frozen dataclasses.

    Project ── clips ── Clip (media, fps, frame count) ── shots ── Shot ── grade (5 keyframe tracks)
           │                                                       ├── strokes (depth edits)
           │                                                       └── windows (floating-window tracks)
           ├── render: RenderSettings
           └── queue: RenderJob …

Positions are integer *source frames* of the clip's media; ranges are half-open [start, end).
fps is a Fraction. Serialisation lives in :mod:`engine.document.schema`, edits (pure functions
returning a new Project) in :mod:`engine.document.edits`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import PurePath

from engine.document.grade import Grade, StereoParams, Track, check_in_range

STROKE_KINDS = ("push", "flatten", "smooth", "set")
WINDOW_EDGES = ("left", "right")
WINDOW_TRACKS = ("window_left", "window_right")
WINDOW_MAX_PCT = 50.0
JOB_STATES = ("queued", "running", "done", "failed", "cancelled")


@dataclass(frozen=True)
class Stroke:
    """One depth edit (CONVENTIONS.md "Depth edits"): a stored brush stroke, not pixels.

    Attributes:
        id: unique within the project (``s1``, ``s2`` …).
        kind: ``push`` (δ += amount·w; > 0 farther), ``flatten`` (towards the w-weighted mean δ under the
            stroke), ``smooth`` (edge-aware blur) or ``set`` (δ -> value), each by the brush weight w.
        frame: the source frame the stroke was painted on (carried to the shot's other frames by flow).
        points: polyline, (x, y) in full-resolution source pixels.
        radius: brush radius in source pixels (w = 1 inside).
        softness: width in source pixels of the soft edge beyond `radius` (w falls to 0 at radius + softness).
        amount: ``push``: the δ offset a in [−1, 1]; other kinds: strength in [0, 1] that scales w.
        value: ``set``: the target δ in [0, 1] (unused by the other kinds).
        edge_aware: snap the brush weight to the frame's image edges.
        visible: False hides the stroke: it stays in the document (and its list) but changes δ nowhere,
            in the preview and the master alike (a muted layer).
        matte: an imported matte instead of a brush path: an image, a folder of images or a frame-number
            pattern (``roto.%04d.png`` / ``roto.####.exr``); its grey level (integers over their range,
            floats clipped to [0, 1]) is the weight. A single image is the matte of `frame` and is carried
            by flow like a painted stroke; a sequence's j-th file (number order) is the matte of source
            frame ``frame + j`` (no flow). `points`, `softness` and `edge_aware` are unused (`radius` sets
            smooth's blur as for a brush).
    """

    id: str
    kind: str
    frame: int
    points: tuple[tuple[float, float], ...]
    radius: float
    softness: float = 0.0
    amount: float = 1.0
    value: float = 0.0
    edge_aware: bool = False
    visible: bool = True
    matte: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a stroke needs an id")
        if self.kind not in STROKE_KINDS:
            raise ValueError(f"stroke kind {self.kind!r} is not one of {', '.join(STROKE_KINDS)}")
        if isinstance(self.frame, bool) or not isinstance(self.frame, int) or self.frame < 0:
            raise ValueError(f"stroke frame must be a source frame >= 0, got {self.frame!r}")
        if not self.points and not self.matte:
            raise ValueError(f"stroke {self.id} has no points")
        if not all(len(p) == 2 and all(math.isfinite(c) for c in p) for p in self.points):
            raise ValueError(f"stroke {self.id} has a point that is not a finite (x, y)")
        for name in ("radius", "softness"):
            check_in_range(f"stroke {name}", getattr(self, name), (0.0, 1e5))
        check_in_range("push amount" if self.kind == "push" else "stroke strength", self.amount,
                       (-1.0, 1.0) if self.kind == "push" else (0.0, 1.0))
        check_in_range("set value", self.value, (0.0, 1.0))

    @property
    def footprint(self) -> float:
        """Distance from the polyline beyond which the stroke changes nothing (radius + softness)."""
        return self.radius + self.softness


@dataclass(frozen=True)
class WindowTrack:
    """A floating window on one edge (CONVENTIONS.md): keyframed width in % of the eye width.

    ``left`` masks the left eye's left border, ``right`` the right eye's right border.
    """

    edge: str
    track: Track = field(default_factory=Track)

    def __post_init__(self) -> None:
        if self.edge not in WINDOW_EDGES:
            raise ValueError(f"window edge {self.edge!r} is not one of {', '.join(WINDOW_EDGES)}")
        for key in self.track.keyframes:
            check_in_range(f"{self.edge} window width at frame {key.frame}", key.value, (0.0, WINDOW_MAX_PCT))


@dataclass(frozen=True)
class Shot:
    """A contiguous range of source frames [start, end) graded as one unit."""

    start: int
    end: int
    grade: Grade = field(default_factory=lambda: Grade.constant(StereoParams()))
    name: str = ""
    strokes: tuple[Stroke, ...] = ()
    windows: tuple[WindowTrack, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"shot range [{self.start}, {self.end}) is empty or negative")
        edges = [w.edge for w in self.windows]
        if len(edges) != len(set(edges)):
            raise ValueError(f"shot [{self.start}, {self.end}) has two floating-window tracks on one edge")

    def __len__(self) -> int:
        return self.end - self.start

    def contains(self, source_frame: int) -> bool:
        return self.start <= source_frame < self.end

    def window(self, edge: str) -> Track:
        """The floating-window track of `edge` (empty when the shot has none)."""
        return next((w.track for w in self.windows if w.edge == edge), Track())

    def window_at(self, source_frame: int) -> tuple[float, float]:
        """(left, right) floating-window widths in % of the eye width at `source_frame` (0 = none)."""
        return (self.window("left").value_at(source_frame, 0.0), self.window("right").value_at(source_frame, 0.0))

    def strokes_on(self, source_frame: int) -> tuple[Stroke, ...]:
        """Strokes painted on `source_frame`, in creation order."""
        return tuple(s for s in self.strokes if s.frame == source_frame)


def _check_shots(shots: tuple[Shot, ...], frame_count: int) -> None:
    prev_end = 0
    for shot in shots:
        if shot.start < prev_end:
            raise ValueError(f"shot [{shot.start}, {shot.end}) overlaps the previous shot")
        if shot.end > frame_count:
            raise ValueError(f"shot [{shot.start}, {shot.end}) runs past the last frame ({frame_count})")
        prev_end = shot.end


@dataclass(frozen=True)
class Clip:
    """One media file cut into shots, each with its own stereo grade.

    Attributes:
        id: unique within the project (``c1``, ``c2`` …); render jobs refer to clips by it.
        media: path of the source media (absolute once loaded from a project file).
        fps: nominal frame rate of the source.
        frame_count: frames in the source.
        shots: non-overlapping, sorted shots covering the frames to render.
        name: display name.
    """

    id: str
    media: str
    fps: Fraction
    frame_count: int
    shots: tuple[Shot, ...] = ()
    name: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a clip needs an id")
        if not self.media:
            raise ValueError(f"clip {self.id} has no media path")
        if not (isinstance(self.fps, Fraction) and self.fps > 0):
            raise ValueError(f"clip {self.id}: fps must be a positive Fraction, got {self.fps!r}")
        if isinstance(self.frame_count, bool) or not isinstance(self.frame_count, int) or self.frame_count < 1:
            raise ValueError(f"clip {self.id}: frame count must be a positive integer, got {self.frame_count!r}")
        _check_shots(self.shots, self.frame_count)

    def shot_index_at(self, source_frame: int) -> int | None:
        """Index in :attr:`shots` of the shot containing `source_frame`, or None."""
        for i, shot in enumerate(self.shots):
            if shot.contains(source_frame):
                return i
        return None

    def shot_at(self, source_frame: int) -> Shot | None:
        """The shot containing `source_frame`, or None if it is outside every shot."""
        i = self.shot_index_at(source_frame)
        return None if i is None else self.shots[i]

    def params_at(self, source_frame: int) -> StereoParams:
        """Stereo parameters at `source_frame` (defaults outside every shot)."""
        shot = self.shot_at(source_frame)
        return shot.grade.at(source_frame) if shot else StereoParams()

    def cuts(self) -> list[int]:
        """Every shot boundary (starts and ends), sorted."""
        return sorted({b for shot in self.shots for b in (shot.start, shot.end)})


@dataclass(frozen=True)
class RenderSettings:
    """How the project's masters are rendered (the CLI's output flags override them).

    Attributes:
        layout: frame packing (engine.ops.LAYOUTS; checked when a render is planned).
        codec, bit_depth, crf, preset: encoding (``h264``/``hevc``/``prores``/``ffv1``).
        output_dir: folder for masters ("" = beside the project file); stored relative to it when possible.
        synthesize: ``both`` | ``right`` | ``left``.
        temporal: DVG temporal filling (False = the per-frame path).
        swap_eyes, max_width, depth_model, stabilise, name_for_players: as the convert flags.
        refiner: the diffusion refiner (`--refiner NAME|PATH`); None = the geometric path only.
        refiner_steps, refiner_seed, refiner_blend: as `--refiner-steps` (None = the model's default),
            `--refiner-seed` and `--refiner-blend` (``composite`` | ``full``).
    """

    layout: str = "sbs-full"
    codec: str = "h264"
    bit_depth: int = 8
    crf: int | None = None
    preset: str | None = None
    output_dir: str = ""
    synthesize: str = "both"
    temporal: bool = True
    swap_eyes: bool = False
    max_width: int | None = None
    depth_model: str = "auto"
    stabilise: str = "align"
    name_for_players: bool = False
    refiner: str | None = None
    refiner_steps: int | None = None
    refiner_seed: int = 0
    refiner_blend: str = "composite"

    def __post_init__(self) -> None:
        if self.bit_depth not in (8, 10):
            raise ValueError(f"bit depth must be 8 or 10, got {self.bit_depth!r}")
        if self.synthesize not in ("both", "right", "left"):
            raise ValueError(f"synthesize must be both, right or left, got {self.synthesize!r}")
        if self.max_width is not None and (not isinstance(self.max_width, int) or self.max_width < 16):
            raise ValueError(f"max width must be at least 16 px, got {self.max_width!r}")
        if self.crf is not None and (not isinstance(self.crf, int) or not 0 <= self.crf <= 63):
            raise ValueError(f"crf must be 0..63, got {self.crf!r}")
        if self.refiner_blend not in ("composite", "full"):
            raise ValueError(f"refiner blend must be composite or full, got {self.refiner_blend!r}")
        if self.refiner_steps is not None and (not isinstance(self.refiner_steps, int) or self.refiner_steps < 1):
            raise ValueError(f"refiner steps must be at least 1, got {self.refiner_steps!r}")
        for name in ("layout", "codec", "depth_model", "stabilise"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"render setting {name} must be a non-empty string")


@dataclass(frozen=True)
class RenderJob:
    """One entry of the render queue (saved with the project, so it survives a restart).

    Attributes:
        id: unique within the project (``j1`` …).
        clip: id of the clip to render.
        start, end: source-frame range [start, end) of that clip (a shot, a marked range or the clip).
        output: the master's path (stored relative to the project file when possible).
        settings: the render settings of this job (a copy of the project's when it was queued).
        state: ``queued`` | ``running`` | ``done`` | ``failed`` | ``cancelled``.
        message: the last error or note (one line).
        label: what the editor queued ("Shot 003", "Frames 100-200", the clip name).
    """

    id: str
    clip: str
    start: int
    end: int
    output: str
    settings: RenderSettings = field(default_factory=RenderSettings)
    state: str = "queued"
    message: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        if not self.id or not self.clip:
            raise ValueError("a render job needs an id and a clip")
        if not 0 <= self.start < self.end:
            raise ValueError(f"render job {self.id}: range [{self.start}, {self.end}) is empty or negative")
        if not self.output:
            raise ValueError(f"render job {self.id} has no output path")
        if self.state not in JOB_STATES:
            raise ValueError(f"render job state {self.state!r} is not one of {', '.join(JOB_STATES)}")


@dataclass(frozen=True)
class Project:
    """A studio project: clips with graded shots, render settings and the render queue.

    The ``media``/``fps``/``frame_count``/``shots``/``shot_at``/``params_at`` shorthands read the
    project's only clip (ValueError when it has several: name the clip with :meth:`clip`).
    """

    clips: tuple[Clip, ...]
    name: str = ""
    render: RenderSettings = field(default_factory=RenderSettings)
    queue: tuple[RenderJob, ...] = ()

    def __post_init__(self) -> None:
        ids = [c.id for c in self.clips]
        if len(ids) != len(set(ids)):
            raise ValueError(f"clip ids must be unique, got {ids}")
        job_ids = [j.id for j in self.queue]
        if len(job_ids) != len(set(job_ids)):
            raise ValueError(f"render job ids must be unique, got {job_ids}")
        stroke_ids = [s.id for c in self.clips for shot in c.shots for s in shot.strokes]
        if len(stroke_ids) != len(set(stroke_ids)):
            raise ValueError("stroke ids must be unique within the project")
        for job in self.queue:
            if job.clip not in ids:
                raise ValueError(f"render job {job.id} refers to clip {job.clip!r}, which the project lacks")

    @classmethod
    def single(cls, media: str, fps: Fraction, frame_count: int, shots: tuple[Shot, ...] = (),
               name: str = "", clip_name: str = "") -> Project:
        """A one-clip project (clip id ``c1``)."""
        return cls((Clip("c1", str(media), Fraction(fps), int(frame_count), tuple(shots), clip_name),), name=name)

    def clip(self, key: str | int | None = None) -> Clip:
        """A clip by id (``c2``), by 1-based number (2 or ``"2"``) or by name; None = the only clip.

        Raises:
            KeyError: no such clip, or None asked of a project with several (the message lists them).
        """
        if key is None:
            if len(self.clips) == 1:
                return self.clips[0]
            raise KeyError(f"the project has {len(self.clips)} clips; name one ({self.describe_clips()})")
        text = str(key)
        for c in self.clips:
            if text == c.id or (c.name and text == c.name):
                return c
        if text.isdigit() and 1 <= int(text) <= len(self.clips):
            return self.clips[int(text) - 1]
        raise KeyError(f"the project has no clip {text!r} ({self.describe_clips()})")

    def clip_index(self, clip_id: str) -> int:
        for i, c in enumerate(self.clips):
            if c.id == clip_id:
                return i
        raise KeyError(f"the project has no clip {clip_id!r} ({self.describe_clips()})")

    def describe_clips(self) -> str:
        """'1: c1 "Opening" (a.mov), 2: c2 (b.mov)' — for error messages and `project show`."""
        if not self.clips:
            return "no clips"
        return ", ".join(f"{i}: {c.id}{f' {c.name!r}' if c.name else ''} ({PurePath(c.media).name})"
                         for i, c in enumerate(self.clips, start=1))

    def job(self, job_id: str) -> RenderJob:
        for j in self.queue:
            if j.id == job_id:
                return j
        raise KeyError(f"the render queue has no job {job_id!r}")

    def _only(self) -> Clip:
        try:
            return self.clip()
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from exc

    @property
    def media(self) -> str:
        return self._only().media

    @property
    def fps(self) -> Fraction:
        return self._only().fps

    @property
    def frame_count(self) -> int:
        return self._only().frame_count

    @property
    def shots(self) -> tuple[Shot, ...]:
        return self._only().shots

    def shot_at(self, source_frame: int) -> Shot | None:
        return self._only().shot_at(source_frame)

    def params_at(self, source_frame: int) -> StereoParams:
        return self._only().params_at(source_frame)
