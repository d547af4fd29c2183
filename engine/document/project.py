"""Project, Shot: the editor's document, as plain frozen dataclasses.

Positions are integer *source frames*; ranges are half-open [start, end).
fps is a Fraction. Serialisation lives in :mod:`engine.document.schema`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction

from engine.document.grade import Grade, StereoParams


@dataclass(frozen=True)
class Shot:
    """A contiguous range of source frames [start, end) graded as one unit."""

    start: int
    end: int
    grade: Grade = field(default_factory=lambda: Grade.constant(StereoParams()))
    name: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"shot range [{self.start}, {self.end}) is empty or negative")

    def __len__(self) -> int:
        return self.end - self.start

    def contains(self, source_frame: int) -> bool:
        return self.start <= source_frame < self.end


@dataclass(frozen=True)
class Project:
    """One media file cut into shots, each with its own stereo grade.

    Attributes:
        media: path of the source media (as the user gave it).
        fps: nominal frame rate of the source.
        frame_count: frames in the source.
        shots: non-overlapping, sorted shots covering the frames to render.
        name: display name.
    """

    media: str
    fps: Fraction
    frame_count: int
    shots: tuple[Shot, ...]
    name: str = ""

    def __post_init__(self) -> None:
        prev_end = 0
        for shot in self.shots:
            if shot.start < prev_end:
                raise ValueError(f"shot [{shot.start}, {shot.end}) overlaps the previous shot")
            if shot.end > self.frame_count:
                raise ValueError(f"shot [{shot.start}, {shot.end}) runs past the last frame ({self.frame_count})")
            prev_end = shot.end

    @classmethod
    def one_shot(cls, media: str, fps: Fraction, frame_count: int, params: StereoParams,
                 start: int = 0, end: int | None = None) -> Project:
        """The one-shot project `convert` uses: constant parameters over [start, end)."""
        end = frame_count if end is None else end
        return cls(media, Fraction(fps), frame_count, (Shot(start, end, Grade.constant(params)),))

    def shot_at(self, source_frame: int) -> Shot | None:
        """The shot containing `source_frame`, or None if it is outside every shot."""
        for shot in self.shots:
            if shot.contains(source_frame):
                return shot
        return None

    def params_at(self, source_frame: int) -> StereoParams:
        """Stereo parameters at `source_frame` (defaults outside every shot)."""
        shot = self.shot_at(source_frame)
        return shot.grade.at(source_frame) if shot else StereoParams()

    def with_shot(self, index: int, shot: Shot) -> Project:
        shots = list(self.shots)
        shots[index] = shot
        return replace(self, shots=tuple(shots))
