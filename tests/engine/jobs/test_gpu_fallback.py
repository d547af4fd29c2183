"""A GPU out of memory mid-render: the render pass runs again on the CPU with a note; no partial master.

The out-of-memory error is simulated (no GPU here): the frame's depth upload raises torch's own
``torch.cuda.OutOfMemoryError``, as a CUDA allocation does.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch

from engine import api
from engine.jobs import convert as convert_job
from tests.support.shot_clips import WARM, clip_from_shots, drift

FRAMES = 8


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path, _ = clip_from_shots(tmp_path_factory.mktemp("clip") / "drift.mp4", [(FRAMES, drift(2, WARM, FRAMES))])
    return path


def _request(clip: Path, out: Path) -> api.ConvertRequest:
    return api.ConvertRequest(input=clip, output=out, encode=api.EncodeSettings(codec="ffv1"), use_cache=False,
                              shots="off")


def _run(request: api.ConvertRequest) -> list[str]:
    return [p.message for p in api.convert(request) if p.stage == "note"]


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _oom_at(monkeypatch, when) -> None:
    real = convert_job.DepthStage.depth_tensor

    def depth_tensor(self, index, segment, device):
        if when(index, device):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, index, segment, device)

    monkeypatch.setattr(convert_job.DepthStage, "depth_tensor", depth_tensor)


def test_gpu_out_of_memory_renders_again_on_the_cpu_with_a_note(tmp_path, clip, monkeypatch):
    reference = tmp_path / "cpu.mkv"
    _run(_request(clip, reference))
    monkeypatch.setattr(convert_job, "resolve_device", lambda spec: torch.device("cuda", 0))
    _oom_at(monkeypatch, lambda index, device: device.type == "cuda")
    out = tmp_path / "gpu.mkv"
    notes = _run(_request(clip, out))
    assert any("cuda:0 ran out of memory (CUDA out of memory. Tried to allocate 2.00 GiB): rendering again on "
               "the CPU" in n for n in notes)
    got, want = _frames(out), _frames(reference)
    assert len(got) == FRAMES and all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))


def test_out_of_memory_on_the_cpu_is_one_line_and_leaves_nothing(tmp_path, clip, monkeypatch):
    out = tmp_path / "master.mkv"
    _oom_at(monkeypatch, lambda index, device: index == 5)  # mid-render: frames 0-4 already encoded
    with pytest.raises(api.OutputError, match="out of memory while rendering"):
        _run(_request(clip, out))
    assert list(tmp_path.iterdir()) == []
