"""Helpers of the refiner tests: tiny random pipelines and clip tensors (diffusers' get_dummy_components habit)."""

from __future__ import annotations

from pathlib import Path

import torch

from engine.refiner.configs import TINY
from engine.refiner.models import build_components
from engine.refiner.train import make_pipeline

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo" / "demo.mp4"


def run_job(job):
    """Drive a Progress generator; return (its value, the Progress list)."""
    seen = []
    while True:
        try:
            seen.append(next(job))
        except StopIteration as stop:
            return stop.value, seen


def tiny_pipeline(seed: int = 0, config=TINY):
    """A random tiny SpatialDreamerPipeline in eval mode."""
    torch.manual_seed(seed)
    pipe = make_pipeline(config, build_components(config))
    for module in (pipe.vae, pipe.denoiser, pipe.refiner_net):
        module.eval()
    return pipe


def clip_tensors(frames: int = 6, height: int = 24, width: int = 40, seed: int = 0):
    """(reference, geometric, mask) random tensors of a clip; the mask is one 8×8 hole per frame."""
    g = torch.Generator().manual_seed(seed)
    ref = torch.rand(frames, 3, height, width, generator=g)
    geo = torch.rand(frames, 3, height, width, generator=g)
    mask = torch.zeros(frames, 1, height, width, dtype=torch.bool)
    mask[..., 6:14, 4:12] = True
    return ref, geo, mask
