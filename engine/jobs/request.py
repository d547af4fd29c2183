"""The settings of one conversion, as a frozen dataclass (no argparse past the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

from engine.depth.protocol import DepthConfig
from engine.depth.stabilise import StabiliseConfig
from engine.document import DEFAULT_CONVERGENCE, DEFAULT_DIVERGENCE, Project, StereoParams
from engine.dvg import DvgConfig
from engine.errors import UsageError
from engine.jobs.export_depth import DepthExportSpec
from engine.jobs.refine import RefinerSpec
from engine.media import EncodeSettings
from engine.shots import ShotDetectConfig


@dataclass(frozen=True)
class ImportedDepthSpec:
    """`--depth PATH --depth-kind KIND --depth-scale S`."""

    path: Path
    kind: str = "inverse"
    scale: float = 1.0


@dataclass(frozen=True)
class ConvertRequest:
    """Everything `convert` needs; the CLI, the studio's render queue and the farm build one of these.

    Attributes:
        input: source video or still.
        output: target file, required by `convert` (`pair` writes `<stem>_L<ext>` and `<stem>_R<ext>` beside it).
        layout: one of engine.ops.LAYOUTS.
        params: stereo grade used when `project` is None (constant over the range).
        project: per-shot keyframed grades (Project.2); overrides `params` inside its keyed shots and
            `shots`. `input` None = the media of the project's clip.
        clip: which clip of `project` to render (id, 1-based number or name); None = its only clip.
        synthesize: 'both' (default: each eye half the shift), 'right' or 'left'.
        temporal: DVG hole filling (occlusion masks propagated by flow, disocclusions filled from what
            neighbouring frames saw); False = the per-frame path (`--temporal off`), same depth and grade.
        start, end: user time strings (CONVENTIONS.md "Time"); None = whole source.
        max_width: cap on one eye's width in pixels (aspect kept).
        shots: 'auto' (detect cuts), 'off' (one shot), or a path to an .otio / .edl whose cuts to use;
            ignored when `project` is given (its shots are used).
        refiner: the SpatialDreamer diffusion refiner after the geometric path (`--refiner`); None = off.
        fps: frame rate of an image-sequence input (`--fps`; required for sequences, ignored otherwise).
        fill_gaps: 'fail' (a gap in a sequence's numbering is an error) or 'hold' (repeat the frame before).
        also_reads: other files the job must never write over (a batch passes all its inputs).
        vr180: a VR180 master (`--vr180`): each eye's 180° equirect view of the flat stereo picture on the
            `headset` preset's virtual screen, side by side, tagged st3d + sv3d (engine.ops.vr180).
        vr180_input: what a `--vr180` source already is: 'auto' (projection metadata, else 180° fisheye circles in
            the picture, else flat), 'flat', 'equirect' or 'fisheye' (engine.jobs.vr180).
        aov: per-eye compositing passes with `--layout pair` (`--aov`): the hole mask and disparity as EXR
            channels or files beside other sequence frames, or alpha = 1 - hole in ProRes 4444.
        bars: 'auto' finds letterbox / pillarbox bars and keeps them at d = 0, out of the δ range; 'off'.
        audio: a soundtrack file for an image-sequence input (`--audio FILE`), trimmed to the picture.
        tonemap: tone-map a PQ/HLG source to an SDR BT.709 master (`--tonemap`); off: HDR is kept as it is.
        spatial: an Apple spatial video (`--layout spatial`): the `sbs-full` eyes encoded as the two views of
            MV-HEVC by hevc_nvenc's multiview profile, with Apple's vexu + hfov (engine.media.spatial).
    """

    input: Path | None
    output: Path | None = None
    layout: str = "sbs-full"
    params: StereoParams = field(default_factory=lambda: StereoParams(DEFAULT_DIVERGENCE, DEFAULT_CONVERGENCE))
    project: Project | None = None
    clip: str | None = None
    synthesize: str = "both"
    temporal: bool = True
    dvg: DvgConfig = field(default_factory=DvgConfig)
    swap_eyes: bool = False
    depth: ImportedDepthSpec | None = None
    depth_config: DepthConfig = field(default_factory=DepthConfig)
    stabilise: StabiliseConfig = field(default_factory=StabiliseConfig)
    encode: EncodeSettings = field(default_factory=EncodeSettings)
    max_width: int | None = None
    start: str | None = None
    end: str | None = None
    device: str = "auto"
    overwrite: bool = False
    shots: str = "auto"
    shot_detect: ShotDetectConfig = field(default_factory=ShotDetectConfig)
    export_depth: DepthExportSpec | None = None
    export_holes: Path | None = None
    cache_dir: Path | None = None
    use_cache: bool = True
    refiner: RefinerSpec | None = None
    fps: Fraction | None = None
    fill_gaps: str = "fail"
    also_reads: tuple[Path, ...] = ()
    vr180: bool = False
    vr180_input: str = "auto"
    aov: bool = False
    bars: str = "auto"
    audio: Path | None = None
    tonemap: bool = False
    spatial: bool = False


def media_options(request: ConvertRequest) -> dict:
    """The keyword arguments `open_media` takes for the request's input (sequence rate and gap rule)."""
    return {"fps": request.fps, "fill_gaps": request.fill_gaps, "audio": request.audio}


def with_project_media(request: ConvertRequest) -> ConvertRequest:
    """`request` with `input` set to the media of its project's clip when no input was given.

    Raises:
        UsageError: no input and no project, or no such clip.
    """
    if request.input is not None:
        return request
    if request.project is None:
        raise UsageError("no input given", hint="Pass the source media, or --project FILE")
    try:
        clip = request.project.clip(request.clip)
    except KeyError as exc:
        raise UsageError(str(exc.args[0]), hint="Name the clip with --clip ID, NUMBER or NAME") from exc
    return replace(request, input=Path(clip.media))
