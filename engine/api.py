"""THE public surface of the engine: the CLI, the studio and the farm call only this.

    from engine import api
    media = api.open_media("shot.mov")                  # probe + seekable reader; raises api.MediaError
    rgb = media.frame(120).image                        # (H, W, 3) uint8, frame-accurate, cached
    left, right = api.render_frame(rgb, delta, params)  # the exact per-frame path of the final render
    for p in api.convert(api.ConvertRequest(...), cancel=token):
        ...

Lazy (PEP 562): importing this module costs almost nothing; each name imports its home module the
first time it is used, so `spatialdreamer --help` never starts torch and `probe` only PyAV. Errors,
Progress and CancelToken are imported eagerly (they are tiny and every front end needs them).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine import __version__
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
from engine.progress import CancelToken, Progress

_LAZY: dict[str, str] = {
    # name -> "module" (attribute of the same name) or "module:attribute"
    **dict.fromkeys(("LAYOUTS", "SYNTHESIZE_MODES", "DEPTH_KINDS", "MODEL_NAMES", "SHOT_DETECTORS", "CODECS",
                     "EVAL_EYES", "STABILISE_MODES", "DEPTH_EXPORT_FORMATS", "DISPARITY_EXPORT_FORMATS",
                     "PROGRESS_MODES", "SCREEN_NAMES", "QC_MASTER_LAYOUTS"), "engine.vocabulary"),
    **dict.fromkeys(("Clip", "DepthCurve", "Grade", "Keyframe", "Project", "RenderJob", "RenderSettings", "Shot",
                     "StereoParams", "Stroke", "Track", "WindowTrack", "load_project", "save_project", "parse_time"),
                    "engine.document"),
    **dict.fromkeys(("read_edl", "read_otio", "write_otio"), "engine.document.otio_io"),
    **dict.fromkeys(("frames_to_timecode", "offset_timecode"), "engine.document.timecode"),
    "DepthConfig": "engine.depth.protocol",
    "StabiliseConfig": "engine.depth.stabilise",
    "TemporalFilterConfig": "engine.depth.temporal_filter",
    **dict.fromkeys(("EncodeSettings", "MediaInfo", "MediaReader", "open_media", "probe", "write_still"),
                    "engine.media"),
    **dict.fromkeys(("ShotDetectConfig", "cuts_to_ranges", "detect_cuts", "detect_shots", "edl_to_project",
                     "otio_to_project", "shots_to_project"), "engine.shots"),
    **dict.fromkeys(("ConvertRequest", "ImportedDepthSpec"), "engine.jobs.request"),
    "DepthExportSpec": "engine.jobs.export_depth",
    **dict.fromkeys(("RefinerSpec", "looks_like_path"), "engine.jobs.refine"),
    **dict.fromkeys(("player_name", "output_paths"), "engine.jobs.plan"),
    **dict.fromkeys(("BatchRequest", "BatchReport", "is_batch"), "engine.jobs.batch"),
    **dict.fromkeys(("EvalReport", "EvalRequest"), "engine.jobs.evaluate"),
    **dict.fromkeys(("PairReport", "PairRequest", "SkippedInput"), "engine.jobs.pairs"),
    "load_pair_manifest": "engine.jobs.pairs:load_manifest",
    **dict.fromkeys(("TrainRequest", "TrainReport"), "engine.refiner.train"),
    "REFINER_CONFIGS": "engine.refiner.configs:CONFIGS",
    **dict.fromkeys(("resolve_models_dir", "scan_models", "scan_base_weights", "scan_refiners", "format_models_table"),
                    "engine.models"),
    "download_model": "engine.models.hub",
    "HUB_MODEL_NAMES": "engine.models.hub:HUB_SOURCES",
    "doctor_checks": "engine.doctor:run_checks",
    **dict.fromkeys(("QcReport",), "engine.jobs.qc_report"),
    "QcRequest": "engine.jobs.qc",
    **dict.fromkeys(("budget_for", "screen_names"), "engine.grading.qc_screens"),
    "suggest_shot": "engine.jobs.qc_shot",
    **dict.fromkeys(("DUBOIS_LEFT", "DUBOIS_RIGHT"), "engine.ops.pack"),
    "decode_pcm": "engine.media.pcm",
    **dict.fromkeys(("new_project", "project_summary"), "engine.jobs.render_project"),
    "format_project_summary": "engine.jobs.render_project:format_summary",
    **dict.fromkeys(("RenderRequest", "RenderReport", "HeldJob"), "engine.jobs.render"),
    **dict.fromkeys(("parse_shot_list", "parse_frame_range", "plan_chunks"), "engine.jobs.render_chunks"),
    **dict.fromkeys(("EMIT_FORMATS", "farm_job", "openjd_template", "opencue_spec"), "engine.farm.emit"),
    "write_text_atomic": "engine.fileio:atomic_write_text",
    "render_on_ray": "engine.farm.ray_runner",
    **dict.fromkeys(("parse_path_maps", "map_path"), "engine.farm.path_map"),
    "snap_fps": "engine.media.writer",
    **dict.fromkeys(("is_sequence_path", "source_stem"), "engine.media.sequence"),
    **dict.fromkeys(("spatial_encoder_status", "mv_hevc_usable"), "engine.media.spatial"),
    "SPATIAL_HINT": "engine.media.spatial:MACOS_HINT",
}


def __getattr__(name: str) -> Any:
    """PEP 562: import a public name's home module on first use, then keep it in this module."""
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'engine.api' has no attribute {name!r}")
    module, _, attribute = target.partition(":")
    value = getattr(importlib.import_module(module), attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def convert(request, cancel: CancelToken | None = None) -> Iterator[Progress]:
    """Convert a source into a stereo master; a generator of Progress that honours `cancel`."""
    from engine.jobs import convert as _convert

    return _convert.convert(request, cancel)


def render(request, cancel: CancelToken | None = None, held=None):
    """Render a project's clip in resumable chunks into one master (a RenderRequest); a generator of
    Progress whose return value is a RenderReport (chunks rendered, kept, damaged; up to date).
    `held` (a HeldJob) keeps the media and the depth model open between chunk calls."""
    from engine.jobs import render as _render

    return _render.render(request, cancel, held)


def batch(request, cancel: CancelToken | None = None):
    """Convert many inputs into one folder (a BatchRequest): a generator of Progress whose return value
    is a BatchReport (per-input outcomes; `report.exit_code` is 3 or 4 when some failed)."""
    from engine.jobs import batch as _batch

    return _batch.batch(request, cancel)


def evaluate(request, cancel: CancelToken | None = None):
    """Score a stereo master against its source (E_warp, PSNR/SSIM vs a real other view, x-t slice).

    A generator of Progress whose return value (StopIteration.value) is an EvalReport.
    """
    from engine.jobs import evaluate as _evaluate

    return _evaluate.evaluate(request, cancel)


def train_refiner(request, cancel: CancelToken | None = None):
    """Train (or resume) the SpatialDreamer refiner on PairDataset.1 folders (a TrainRequest).

    A generator of Progress whose return value is a TrainReport; resumable from its checkpoints.
    """
    from engine.refiner import train as _train

    return _train.train_refiner(request, cancel)


def make_pairs(request, cancel: CancelToken | None = None):
    """Build the self-supervised forward-backward pair dataset (PairDataset.1) from monocular clips.

    A generator of Progress whose return value is a PairReport; resumable.
    """
    from engine.jobs import pairs as _pairs

    return _pairs.make_pairs(request, cancel)


def qc(request, cancel: CancelToken | None = None):
    """Stereo QC of a source, a project or an existing master against a screen's comfort budget.

    A generator of Progress whose return value is a QcReport (`report.exit_code` is 6 when a
    limit is broken; `report.suggested_project()` holds the per-shot grade suggestions).
    """
    from engine.jobs import qc as _qc

    return _qc.qc(request, cancel)


def auto_grade(request, screen: str, budget: tuple[float, float] | None = None, smooth: bool = False,
               cancel: CancelToken | None = None):
    """The project `convert --auto-grade SCREEN` renders: per-shot suggested D, c and floating windows.

    A generator of Progress whose return value is the suggested Project (one clip).
    """
    from engine.jobs import qc as _qc

    return _qc.auto_grade(request, screen, budget, smooth, cancel)


def render_frame(rgb, depth, params, synthesize: str = "both", device: str = "auto", bars=None):
    """Both eyes of one frame, by the exact per-frame path of the final render.

    Args:
        rgb: (H, W, 3) uint8 or uint16 RGB.
        depth: (H, W) normalised depth δ in [0, 1] (0 nearest), or pixel disparity when `params` is None.
        params: the frame's stereo grade (StereoParams); None for imported `disparity-px` (used as-is).
        synthesize: 'both' | 'right' | 'left'.
        bars: letterbox / pillarbox bars (engine.ops.bars.Bars at any size, e.g. ``Session.bars(n)``) kept
            at d = 0 on the screen plane, as the master keeps them; None: none.
    Returns:
        left, right: (H, W, 3) of the input dtype.
    """
    import numpy as np

    from engine.device import resolve_device
    from engine.grading.render import render_graded
    from engine.jobs import convert as _convert

    if rgb.ndim != 3 or rgb.shape[2] != 3 or depth.shape != rgb.shape[:2]:
        raise ValueError(f"rgb must be (H, W, 3) and depth (H, W); got {rgb.shape} and {depth.shape}")
    dev = resolve_device(device)
    flat = None
    if bars is not None and bars.any:
        import torch

        flat = torch.from_numpy(bars.scaled((rgb.shape[1], rgb.shape[0])).mask()).to(dev)[None, None]
    views = render_graded(_convert.to_tensor(rgb, dev), _convert.depth_to_tensor(depth, dev), params, synthesize,
                          flat=flat)
    bits = 16 if rgb.dtype == np.uint16 else 8
    return _convert.to_image(views.left, bits), _convert.to_image(views.right, bits)


def open_session(project_or_media, clip: str | None = None, request=None, **kwargs):
    """An interactive :class:`engine.session.Session` on a project's clip or a media file: one reader,
    one depth provider and the caches kept open; `frame(n)`, `depth(n)`, `shot_at(n)`, `params_at(n)`,
    `render(n)`, `analyse(shot)`, `prefetch(n)`, `readout(n)`, `update(project)`, `close()`.
    See engine/session/session.py for the threading contract."""
    from engine.session import open_session as _open

    return _open(project_or_media, clip, request, **kwargs)


def preview_images(request, at: str) -> list:
    """Frame `at` of `request.input`, graded and packed by `request.layout`, in memory: the master's
    frame (through the session: δ over the whole shot, analysed into the depth cache on demand).

    Returns:
        list of (H, W, 3) uint8 (uint16 for high-bit-depth sources) images; two for `pair`.
    """
    from engine.jobs import preview as _preview

    return _preview.preview_frame(request, at)


def render_preview(request, at: str) -> list[Path]:
    """`spatialdreamer frame`: write frame `at` of the source, graded and packed, to `request.output`.

    Returns the paths written (two for the `pair` layout; both land or neither does).
    """
    from engine.jobs import convert as _convert
    from engine.jobs import preview as _preview
    from engine.jobs.plan import check_outputs_writable, job_inputs
    from engine.jobs.request import with_project_media

    request = with_project_media(request)
    if request.export_depth is not None or request.export_holes is not None:
        raise UsageError("`frame` writes one still; --export-depth, --export-disparity and --export-holes "
                         "are not done for a single frame", hint="Use `spatialdreamer convert` with --start T "
                         "--end T+1f (e.g. --start 96f --end 97f) to export one frame's depth and masks")
    paths = _preview.preview_outputs(request)
    check_outputs_writable(paths, request.overwrite, job_inputs(request))
    images = _preview.preview_frame(request, at)
    _convert.write_stills_together(paths, images)
    return list(paths)


__all__ = [
    "Cancelled", "DepthInputError", "InputError", "InvalidProject", "MediaError", "ModelNotFound", "OutputError",
    "SpatialDreamerError", "UsageError", "CancelToken", "Progress", "__version__",
    "auto_grade", "batch", "convert", "render", "evaluate", "make_pairs", "qc", "render_frame", "open_session",
    "preview_images", "render_preview", "train_refiner",
]
__all__ += sorted(_LAZY)
