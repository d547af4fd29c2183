"""THE public surface of the engine: the CLI, the studio and the farm call only this.

    from engine import api
    media = api.open_media("shot.mov")                  # probe + seekable reader; raises api.MediaError
    rgb = media.frame(120).image                        # (H, W, 3) uint8, frame-accurate, cached
    left, right = api.render_frame(rgb, delta, params)  # the exact per-frame path of the final render
    for p in api.convert(api.ConvertRequest(...), cancel=token):
        ...

Heavy optional imports (diffusers, transformers) stay inside the modules that need them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from engine import __version__
from engine.depth.protocol import DEPTH_KINDS, MODEL_NAMES, DepthConfig
from engine.depth.stabilise import StabiliseConfig
from engine.device import resolve_device
from engine.document import (
    Clip,
    DepthCurve,
    Grade,
    Keyframe,
    Project,
    RenderJob,
    RenderSettings,
    Shot,
    StereoParams,
    Stroke,
    Track,
    WindowTrack,
    load_project,
    parse_time,
    save_project,
)
from engine.document.otio_io import read_edl, read_otio, write_otio
from engine.errors import (
    Cancelled,
    DepthInputError,
    InputError,
    InvalidProject,
    MediaError,
    ModelNotFound,
    OutputError,
    SpatialDreamerError,
    UsageError,
)
from engine.grading.render import render_graded
from engine.jobs import convert as _convert
from engine.jobs import evaluate as _evaluate
from engine.jobs import pairs as _pairs
from engine.jobs import preview as _preview
from engine.jobs.evaluate import EYES as EVAL_EYES
from engine.jobs.evaluate import EvalReport, EvalRequest
from engine.jobs.export_depth import DepthExportSpec
from engine.jobs.pairs import PairReport, PairRequest, SkippedInput
from engine.jobs.pairs import load_manifest as load_pair_manifest
from engine.jobs.plan import check_outputs_writable
from engine.jobs.request import SYNTHESIZE_MODES, ConvertRequest, ImportedDepthSpec
from engine.media import EncodeSettings, MediaInfo, MediaReader, open_media, probe, write_still
from engine.ops import LAYOUTS
from engine.progress import CancelToken, Progress
from engine.shots import DETECTORS as SHOT_DETECTORS
from engine.shots import (
    ShotDetectConfig,
    cuts_to_ranges,
    detect_cuts,
    detect_shots,
    edl_to_project,
    otio_to_project,
    shots_to_project,
)


def convert(request: ConvertRequest, cancel: CancelToken | None = None) -> Iterator[Progress]:
    """Convert a source into a stereo master; a generator of Progress that honours `cancel`."""
    return _convert.convert(request, cancel)


def evaluate(request: EvalRequest, cancel: CancelToken | None = None):
    """Score a stereo master against its source (E_warp, PSNR/SSIM vs a real other view, x-t slice).

    A generator of Progress whose return value (StopIteration.value) is an EvalReport.
    """
    return _evaluate.evaluate(request, cancel)


def make_pairs(request: PairRequest, cancel: CancelToken | None = None):
    """Build the self-supervised forward-backward pair dataset (PairDataset.1) from monocular clips.

    A generator of Progress whose return value is a PairReport; resumable.
    """
    return _pairs.make_pairs(request, cancel)


def render_frame(rgb: np.ndarray, depth: np.ndarray, params: StereoParams | None,
                 synthesize: str = "both", device: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Both eyes of one frame, by the exact per-frame path of the final render.

    Args:
        rgb: (H, W, 3) uint8 or uint16 RGB.
        depth: (H, W) normalised depth δ in [0, 1] (0 nearest), or pixel disparity when `params` is None.
        params: the frame's stereo grade; None for imported `disparity-px` (used as-is).
        synthesize: 'both' | 'right' | 'left'.
    Returns:
        left, right: (H, W, 3) of the input dtype.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or depth.shape != rgb.shape[:2]:
        raise ValueError(f"rgb must be (H, W, 3) and depth (H, W); got {rgb.shape} and {depth.shape}")
    dev = resolve_device(device)
    views = render_graded(_convert.to_tensor(rgb, dev), _convert.depth_to_tensor(depth, dev), params, synthesize)
    bits = 16 if rgb.dtype == np.uint16 else 8
    return _convert.to_image(views.left, bits), _convert.to_image(views.right, bits)


def open_session(project_or_media: Project | str | Path, clip: str | None = None,
                 request: ConvertRequest | None = None, **kwargs):
    """An interactive :class:`engine.session.Session` on a project's clip or a media file: one reader,
    one depth provider and the caches kept open; `frame(n)`, `depth(n)`, `shot_at(n)`, `params_at(n)`,
    `render(n)`, `analyse(shot)`, `prefetch(n)`, `readout(n)`, `update(project)`, `close()`.
    See engine/session/session.py for the threading contract."""
    from engine.session import open_session as _open

    return _open(project_or_media, clip, request, **kwargs)


def preview_images(request: ConvertRequest, at: str) -> list[np.ndarray]:
    """Frame `at` of `request.input`, graded and packed by `request.layout`, in memory: the master's
    frame (through the session: δ over the whole shot, analysed into the depth cache on demand).

    Returns:
        list of (H, W, 3) uint8 (uint16 for high-bit-depth sources) images; two for `pair`.
    """
    return _preview.preview_frame(request, at)


def render_preview(request: ConvertRequest, at: str) -> list[Path]:
    """`spatialdreamer frame`: write frame `at` of the source, graded and packed, to `request.output`.

    Returns the paths written (two for the `pair` layout; both land or neither does).
    """
    paths = _preview.preview_outputs(request)
    check_outputs_writable(paths, request.overwrite)
    images = _preview.preview_frame(request, at)
    _convert.write_stills_together(paths, images)
    return list(paths)


__all__ = [
    "PairReport",
    "PairRequest",
    "SkippedInput",
    "load_pair_manifest",
    "make_pairs",
    "StabiliseConfig",
    "EVAL_EYES",
    "EvalReport",
    "EvalRequest",
    "evaluate",
    "open_session",
    "DepthExportSpec",
    "SHOT_DETECTORS",
    "CancelToken",
    "Cancelled",
    "Clip",
    "DepthCurve",
    "RenderJob",
    "RenderSettings",
    "Stroke",
    "Track",
    "WindowTrack",
    "ConvertRequest",
    "DEPTH_KINDS",
    "DepthConfig",
    "DepthInputError",
    "EncodeSettings",
    "Grade",
    "ImportedDepthSpec",
    "InputError",
    "InvalidProject",
    "Keyframe",
    "LAYOUTS",
    "MODEL_NAMES",
    "MediaError",
    "MediaInfo",
    "MediaReader",
    "ModelNotFound",
    "OutputError",
    "Progress",
    "Project",
    "SYNTHESIZE_MODES",
    "Shot",
    "ShotDetectConfig",
    "SpatialDreamerError",
    "StereoParams",
    "UsageError",
    "__version__",
    "convert",
    "cuts_to_ranges",
    "detect_cuts",
    "detect_shots",
    "edl_to_project",
    "load_project",
    "open_media",
    "otio_to_project",
    "parse_time",
    "preview_images",
    "probe",
    "read_edl",
    "read_otio",
    "render_frame",
    "render_preview",
    "save_project",
    "shots_to_project",
    "write_otio",
    "write_still",
]
