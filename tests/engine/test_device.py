"""engine.device: --device and precision words."""

from __future__ import annotations

import pytest
import torch

from engine.device import resolve_device, resolve_dtype
from engine.errors import UsageError


def test_cpu_and_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")


def test_auto_prefers_cuda_when_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(UsageError, match="no CUDA device 2"):
        resolve_device("cuda:2")


def test_cuda_without_gpu_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UsageError) as info:
        resolve_device("cuda")
    assert info.value.exit_code == 2
    assert "--device cpu" in info.value.one_line()


@pytest.mark.parametrize("word", ["gpu", "cuda:x", "cpu:0", "auto:1", ""])
def test_unknown_device_words(word: str) -> None:
    with pytest.raises(UsageError, match="unknown device"):
        resolve_device(word)


def test_precision_words() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    assert resolve_dtype("auto", cpu) is torch.float32
    assert resolve_dtype("auto", cuda) is torch.float16
    assert resolve_dtype("bf16", cpu) is torch.bfloat16
    assert resolve_dtype("FP32", cuda) is torch.float32
    with pytest.raises(UsageError, match="precision"):
        resolve_dtype("int8", cpu)
