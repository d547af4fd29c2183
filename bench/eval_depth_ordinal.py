"""Occlusion order on the DAVIS rollercoaster: how many hand-annotated "A covers B" pairs a depth gets right.

Writes bench/results/depth_ordinal.json and the table of README.md / docs/depth_eval.md between their
``depth-ordinal`` markers. Run: ``python bench/eval_depth_ordinal.py`` (about two minutes on 2 cores).
Data: ``../shared/data/mono_videos/davis_rollercoaster.mp4``; pairs: tests/fixtures/davis_rollercoaster_
ordinal.json (scored by tests/support/ordinal.py, the code the test uses).

Rows: the depth ``convert VIDEO --export-depth DIR`` writes (weights-free defaults, 480 px eyes, read
back as nearness), the provider's raw output, the provider without motion parallax (single-image cues
on every frame) and the plain vertical prior ("lower is nearer").
"""

from __future__ import annotations

# ruff: noqa: E402  (the repository root goes on sys.path and the OpenMP wait policy is set before any import)
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json
import tempfile
import time

import numpy as np

from bench.eval_depth import replace_block, write_atomic
from engine import api
from engine.depth import DepthConfig
from engine.depth.weights_free import WeightsFreeDepth, WeightsFreeSettings
from engine.media import open_media
from tests.support.ordinal import OrdinalFixture, load_ordinal, ordinal_correct

WIDTH = 480


def exported(fixture: OrdinalFixture) -> dict[int, np.ndarray]:
    """Nearness maps of the annotated frames as `convert --export-depth` writes them (npy)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        request = api.ConvertRequest(input=fixture.media, output=out / "sbs.mp4", max_width=WIDTH, use_cache=False,
                                     end=str(max(fixture.frames) + 1),
                                     export_depth=api.DepthExportSpec(out / "depth", "npy"))
        for _ in api.convert(request):
            pass
        return {f: np.load(out / "depth" / f"{fixture.media.stem}.depth.{f:06d}.npy") for f in fixture.frames}


def provider(fixture: OrdinalFixture, settings: WeightsFreeSettings) -> dict[int, np.ndarray]:
    """The provider's inverse depth (nearness-like) of the annotated frames, run over the clip from frame 0."""
    with open_media(fixture.media) as reader:
        frames = [f.image for f in reader.frames(0, max(fixture.frames) + 1)]
    estimate = WeightsFreeDepth(DepthConfig(model="weights-free"), settings).estimate(frames)
    return {i: d for i, d in enumerate(estimate) if i in fixture.frames}


def table(rows: dict[str, list[bool]], fixture: OrdinalFixture) -> str:
    head = "| depth | " + " | ".join(f"f{p.frame} {p.what}" for p in fixture.pairs) + " | **right** |"
    lines = [head, "|---|" + "---:|" * (len(fixture.pairs) + 1)]
    for name, res in rows.items():
        lines.append(f"| {name} | " + " | ".join("✓" if r else "✗" for r in res) + f" | **{sum(res)} / {len(res)}** |")
    return "\n".join(lines)


def summary(rows: dict[str, list[bool]]) -> str:
    lines = ["| depth (DAVIS rollercoaster) | occlusion pairs right |", "|---|---:|"]
    lines += [f"| {name} | {sum(res)} / {len(res)} |" for name, res in rows.items()]
    return "\n".join(lines)


def main() -> None:
    fixture = load_ordinal()
    if not fixture.media.exists():
        sys.exit(f"{fixture.media}: shared data not found (see ../shared/data/README.md)")
    started, load = time.perf_counter(), os.getloadavg()
    h, w = 540, 960
    ramp = np.repeat(np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None], w, axis=1)
    rows = {
        "weights-free, as `convert --export-depth` writes it": ordinal_correct(fixture, exported(fixture)),
        "weights-free provider (raw)": ordinal_correct(fixture, provider(fixture, WeightsFreeSettings())),
        "weights-free, single-image cues only": ordinal_correct(
            fixture, provider(fixture, WeightsFreeSettings(use_parallax=False))),
        "vertical prior (lower is nearer)": ordinal_correct(fixture, dict.fromkeys(fixture.frames, ramp)),
    }
    payload = {"schema": "DepthOrdinal.1", "settings": repr(WeightsFreeSettings()),
               "pairs": [{"frame": p.frame, "near": p.near, "far": p.far, "what": p.what} for p in fixture.pairs],
               "results": rows, "load_avg_start": load, "seconds": time.perf_counter() - started}
    write_atomic(ROOT / "bench" / "results" / "depth_ordinal.json", json.dumps(payload, indent=2) + "\n")
    print(table(rows, fixture))
    replace_block(ROOT / "docs" / "depth_eval.md", "depth-ordinal", table(rows, fixture))
    replace_block(ROOT / "README.md", "depth-ordinal", summary(rows))


if __name__ == "__main__":
    main()
