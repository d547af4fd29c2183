"""The settings of one conversion, as a frozen dataclass (no argparse past the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.depth.protocol import DepthConfig
from engine.depth.stabilise import StabiliseConfig
from engine.document import DEFAULT_CONVERGENCE, DEFAULT_DIVERGENCE, Project, StereoParams
from engine.dvg import DvgConfig
from engine.jobs.export_depth import DepthExportSpec
from engine.media import EncodeSettings
from engine.shots import ShotDetectConfig

SYNTHESIZE_MODES = ("both", "right", "left")


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
        project: per-shot keyframed grades; overrides `params` inside its shots.
        synthesize: 'both' (default: each eye half the shift), 'right' or 'left'.
        temporal: DVG hole filling (occlusion masks propagated by flow, disocclusions filled from what
            neighbouring frames saw); False = the per-frame path (`--temporal off`), same depth and grade.
        start, end: user time strings (CONVENTIONS.md "Time"); None = whole source.
        max_width: cap on one eye's width in pixels (aspect kept).
        shots: 'auto' (detect cuts), 'off' (one shot), or a path to an .otio / .edl whose cuts to use;
            ignored when `project` is given (its shots are used).
    """

    input: Path
    output: Path | None = None
    layout: str = "sbs-full"
    params: StereoParams = field(default_factory=lambda: StereoParams(DEFAULT_DIVERGENCE, DEFAULT_CONVERGENCE))
    project: Project | None = None
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
