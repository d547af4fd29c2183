"""One graded frame of a source, fast: `spatialdreamer frame` and the studio's first look.

Depth is estimated over a short window ending at the frame (the weights-free
provider needs neighbours for motion parallax) and normalised over that
frame. The final render normalises over the whole shot, so a preview of a
shot whose depth range changes a lot can sit slightly nearer or farther than
the master; the per-frame rendering itself is the master's exact path.
"""

from __future__ import annotations

import numpy as np

from engine.depth.imported import ImportedDepth
from engine.depth.normalise import ShotNormaliser
from engine.depth.registry import create_provider
from engine.device import resolve_device
from engine.document import parse_time
from engine.errors import UsageError
from engine.jobs.convert import depth_to_tensor, eye_image, params_at, render_frame_tensor, to_image
from engine.jobs.plan import eye_size_for, output_paths
from engine.jobs.request import ConvertRequest
from engine.media import STILL_EXTENSIONS, MediaReader, open_media

PREVIEW_WINDOW = 3


def window_depth(reader: MediaReader, index: int, request: ConvertRequest,
                 eye_size: tuple[int, int]) -> tuple[np.ndarray, str]:
    """Raw depth of frame `index` and its kind: imported, or estimated over a short causal window.

    Returns:
        (H, W) float32 raw depth at `eye_size`, and its kind (CONVENTIONS.md depth kinds).
    """
    if request.depth is not None:
        spec = request.depth
        imported = ImportedDepth(spec.path, spec.kind, spec.scale)
        info = reader.info
        imported.validate(info.path, info.video.frame_count, info.video.width, info.video.height)
        return imported.read(index, *eye_size), spec.kind
    provider = create_provider(request.depth_config)
    start = max(0, index - PREVIEW_WINDOW + 1)
    frames = (eye_image(f.image, eye_size) for f in reader.frames(start, index + 1))
    *_, last = provider.estimate(frames)
    return last, provider.output_kind


def normalise_alone(raw: np.ndarray, kind: str) -> np.ndarray:
    """δ of one map normalised on its own robust percentiles (pixel disparity passes through)."""
    if kind == "disparity-px":
        return raw
    norm = ShotNormaliser(kind)
    norm.update(raw)
    norm.finalize()
    return norm.apply(raw)


def preview_frame(request: ConvertRequest, at: str) -> list[np.ndarray]:
    """Render frame `at` of `request.input` as packed image(s) (two for the `pair` layout).

    Returns:
        list of (H, W, 3) uint8 (uint16 for high-bit-depth sources) RGB images.
    """
    with open_media(request.input) as reader:
        info = reader.info
        index = parse_time(at).resolve(info.video.fps, reader.index_at_time, info.video.start_timecode)
        if not 0 <= index < len(reader):
            raise UsageError(f"--at {at} is past the end of the source ({len(reader)} frames)",
                             path=request.input)
        eye = eye_size_for(info, request.max_width)
        image = eye_image(reader.frame(index).image, eye)
        raw, kind = window_depth(reader, index, request, eye)
    device = resolve_device(request.device)
    params = None if kind == "disparity-px" else params_at(request, index)
    packed = render_frame_tensor(image, depth_to_tensor(normalise_alone(raw, kind), device), params,
                                 request, device)
    outs = packed if isinstance(packed, tuple) else (packed,)
    bit_depth = 16 if image.dtype == np.uint16 else 8
    return [to_image(o, bit_depth) for o in outs]


def preview_outputs(request: ConvertRequest) -> tuple:
    """Paths `preview_frame`'s images go to; UsageError unless they are still formats."""
    if request.output.suffix.lower() not in STILL_EXTENSIONS:
        raise UsageError("a frame preview is a still image", path=request.output,
                         hint=f"Use one of {', '.join(sorted(STILL_EXTENSIONS))}")
    return output_paths(request.output, request.layout)
