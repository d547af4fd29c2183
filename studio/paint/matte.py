"""Importing a matte (roto from another tool) as a stroke: one image, or the numbered sequence it belongs to.

A chosen file whose name ends in a frame number (``roto.0012.png``) with numbered siblings of the same
name brings the whole sequence as a frame-number pattern (``roto.%04d.png``); the chosen file is the matte
of the frame at the playhead, so the sequence's first file lands ``index`` frames before it. A file with
no numbered siblings is a single matte on the playhead's frame, carried by flow like a painted stroke.
"""

from __future__ import annotations

import re
from pathlib import Path

from engine.document import Shot, Stroke
from studio.paint.brush import BrushSettings

_NUMBER = re.compile(r"^(.*?)(\d+)$")


def sequence_of(path: Path) -> tuple[str, int, int]:
    """(pattern or path, the chosen file's index in its sequence, the number of files) for `path`.

    A lone file gives (str(path), 0, 1); a numbered one with siblings a printf pattern with its digit count
    (files of the same digit count, numbers in order).
    """
    match = _NUMBER.match(path.stem)
    if match is None:
        return str(path), 0, 1
    head, digits = match.group(1), match.group(2)
    sibling = re.compile(re.escape(head) + r"(\d{" + str(len(digits)) + r"})" + re.escape(path.suffix) + "$")
    numbers = sorted(int(m.group(1)) for p in path.parent.iterdir() if (m := sibling.match(p.name)))
    if len(numbers) < 2:
        return str(path), 0, 1
    pattern = path.parent / f"{head}%0{len(digits)}d{path.suffix}"
    return str(pattern), numbers.index(int(digits)), len(numbers)


def matte_stroke(path: Path, stroke_id: str, brush: BrushSettings, playhead: int, shot: Shot,
                 pull: bool = False) -> Stroke:
    """The stroke for a matte chosen at `playhead` on `shot`, painted with the brush's kind, amount and value
    (`pull`: a push pulls nearer).

    Raises ValueError (one line) when the file is missing, when ``set`` has no value to set, or when the
    sequence would start before the shot.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise ValueError(f"{path}: matte file not found")
    if brush.kind == "set" and brush.value is None:
        raise ValueError("a set matte needs a value: turn 'sample at press' off and choose the value to set")
    matte, index, count = sequence_of(path)
    first = playhead - index
    if first < shot.start:
        raise ValueError(f"{path.name} is file {index + 1} of {count}: on frame {playhead} the sequence would "
                         f"start on frame {first}, before the shot (frame {shot.start}); move the playhead "
                         f"to frame {shot.start + index} or later")
    amount = -brush.amount if (pull and brush.kind == "push") else brush.amount
    return Stroke(stroke_id, brush.kind, first, (), float(brush.radius), 0.0, float(amount),
                  float(brush.value or 0.0), False, True, matte)
