"""Depth Anything V2-Small throughput through our provider: random weights, real architecture, 518 px.

    python bench/bench_learned_depth.py [--device cpu] [--precision auto] [--frames 4] [--batch 1 4]
                                        [--json bench/results/learned_depth.json]

The model is the real DA2-S shape (DINOv2 ViT-S/14: hidden 384, 12 layers, 6
heads; DPT neck 48/96/192/384, fusion 64, head 32) with random weights, saved to
a temporary models folder and loaded through ``create_learned_provider``, so the
timing covers our torch preprocessing, the forward pass and the resize back.
Speed does not depend on the weights' values. Frames are 1280x720 (worked at
518x924) and 518x518.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, installed or not

from engine.depth.learned import create_learned_provider  # noqa: E402
from engine.depth.learned.frames import working_size  # noqa: E402
from engine.depth.protocol import DepthConfig  # noqa: E402

SIZES = {"720p": (720, 1280), "square518": (518, 518)}


def save_random_da2_small(folder: Path) -> int:
    """Write a random-weight Depth Anything V2-Small in Hugging Face layout; return its parameter count."""
    import transformers

    backbone = {
        "model_type": "dinov2",
        "hidden_size": 384,
        "num_hidden_layers": 12,
        "num_attention_heads": 6,
        "mlp_ratio": 4,
        "patch_size": 14,
        "image_size": 518,
        "out_indices": [3, 6, 9, 12],
        "reshape_hidden_states": False,
    }
    config = transformers.DepthAnythingConfig(
        backbone_config=backbone,
        neck_hidden_sizes=[48, 96, 192, 384],
        reassemble_factors=[4, 2, 1, 0.5],
        reassemble_hidden_size=384,
        fusion_hidden_size=64,
        head_hidden_size=32,
        patch_size=14,
        depth_estimation_type="relative",
    )
    torch.manual_seed(0)
    model = transformers.DepthAnythingForDepthEstimation(config)
    model.save_pretrained(folder)
    imagenet = {"image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}
    (folder / "preprocessor_config.json").write_text(json.dumps(imagenet), encoding="utf-8")
    return sum(p.numel() for p in model.parameters())


def time_case(provider, size: tuple[int, int], n_frames: int) -> dict:
    """Warm up on one batch, then time ``n_frames`` frames through ``estimate``."""
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(n_frames)]
    list(provider.estimate(frames[: provider.batch_size]))
    if provider.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = list(provider.estimate(frames))
    if provider.device.type == "cuda":
        torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    assert len(out) == n_frames and out[0].shape == size
    return {
        "frame": f"{size[1]}x{size[0]}",
        "model_input": "{1}x{0}".format(*working_size(*size, provider.input_size, provider.patch_size)),
        "batch": provider.batch_size,
        "frames": n_frames,
        "wall_s": round(wall, 3),
        "s_per_frame": round(wall / n_frames, 4),
        "fps": round(n_frames / wall, 3),
    }


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--frames", type=int, default=4, help="timed frames per case")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "learned_depth.json")
    args = parser.parse_args()
    import transformers

    load_before = os.getloadavg()[0]  # other processes on the machine skew CPU timings; recorded with them
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp)
        params = save_random_da2_small(models / "da2-small")
        for batch in args.batch:
            config = DepthConfig(
                models_dir=models,
                device=args.device,
                precision=args.precision,
                batch_size=batch,
                input_size=518,
            )
            provider = create_learned_provider("da2-small", config)
            for name, size in SIZES.items():
                case = {"case": name, **time_case(provider, size, max(args.frames, batch))}
                results.append(case)
                print(json.dumps(case))
    data = {
        "schema": "BenchLearnedDepth.1",
        "model": "Depth Anything V2-Small architecture, random weights",
        "parameters": params,
        "device": str(provider.device),
        "dtype": str(provider.dtype).removeprefix("torch."),
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_avg_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "gpu": torch.cuda.get_device_name(provider.device) if provider.device.type == "cuda" else None,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "results": results,
    }
    write_json(args.json, data)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
