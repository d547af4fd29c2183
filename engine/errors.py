"""Typed, actionable errors shared by every front end.

Each error carries *what* went wrong, *where* (a path, when there is one) and
*what to do*. The CLI maps :attr:`SpatialDreamerError.exit_code` to its exit
status (CONVENTIONS.md: 0 ok, 1 internal, 2 usage, 3 bad input, 4 output
problem, 5 model missing, 130 cancelled); the studio shows the same one line
in a dialog.
"""

from __future__ import annotations

from pathlib import Path


class SpatialDreamerError(Exception):
    """Base class: one line for the user, optional file and hint."""

    exit_code = 1

    def __init__(self, message: str, *, path: str | Path | None = None, hint: str | None = None) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """`path: message. hint` — what the CLI prints on stderr."""
        text = f"{self.path}: {self.message}" if self.path else self.message
        if self.hint:
            text = f"{text.rstrip('.')}. {self.hint}"
        return text


class UsageError(SpatialDreamerError):
    """The request itself is inconsistent (bad flag combination, bad value)."""

    exit_code = 2


class InputError(SpatialDreamerError):
    """An input file is missing, unreadable or unsuitable."""

    exit_code = 3


class MediaError(InputError):
    """A media file cannot be probed or decoded."""


class DepthInputError(InputError):
    """Imported depth does not match the media (size, frame count, format)."""


class InvalidProject(InputError):
    """A project or dataset file is malformed or from an unknown schema."""


class OutputError(SpatialDreamerError):
    """The output cannot be written (exists, unwritable place, disk full, codec limit)."""

    exit_code = 4


class ModelNotFound(SpatialDreamerError):
    """Model weights are missing or incomplete in the models folder."""

    exit_code = 5


class TrainingError(SpatialDreamerError):
    """Training cannot go on (e.g. the loss became NaN); the last good checkpoint is kept."""

    exit_code = 1


class Cancelled(SpatialDreamerError):
    """The user cancelled; partial outputs have been removed."""

    exit_code = 130

    def __init__(self, message: str = "cancelled", **kwargs) -> None:
        super().__init__(message, **kwargs)
