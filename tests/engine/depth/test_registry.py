"""engine.depth.registry: weights-free built in, learned providers plugged in lazily, 'auto' falls back."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from engine.depth import DepthConfig, DepthProvider, available_providers, create_provider, registry
from engine.depth.weights_free import WeightsFreeDepth
from engine.errors import ModelNotFound, UsageError


@pytest.fixture
def fresh_registry(monkeypatch):
    """Isolate registrations and the once-only learned import for one test."""
    monkeypatch.setattr(registry, "_factories", {"weights-free": registry._factories["weights-free"]})
    monkeypatch.setattr(registry, "_learned_tried", False)
    monkeypatch.setattr(registry, "_learned_import_error", None)
    return monkeypatch


class FakeLearned:
    name = "fake-learned"
    output_kind = "inverse"

    def __init__(self, config: DepthConfig) -> None:
        self.config = config

    def estimate(self, frames):
        for frame in frames:
            yield np.ones(frame.shape[:2], np.float32)

    def reset(self) -> None:
        pass


def fake_learned_module(best: str | None) -> types.ModuleType:
    module = types.ModuleType("engine.depth.learned")

    def find_best_model(config):
        return best

    module.find_best_model = find_best_model
    registry.register_provider("da2-small", FakeLearned, rank=10)
    return module


def test_weights_free_by_name():
    provider = create_provider(DepthConfig(model="weights-free"))
    assert isinstance(provider, WeightsFreeDepth) and isinstance(provider, DepthProvider)
    assert provider.name == "weights-free" and provider.output_kind == "inverse"


def test_auto_falls_back_when_learned_module_missing(fresh_registry):
    fresh_registry.setitem(sys.modules, "engine.depth.learned", None)  # import raises ImportError
    provider = create_provider(DepthConfig(model="auto"))
    assert provider.name == "weights-free"
    assert registry.resolve_model_name(DepthConfig(model="auto")) == "weights-free"
    assert available_providers() == ["weights-free"]
    with pytest.raises(ModelNotFound, match="da2-base"):
        create_provider(DepthConfig(model="da2-base"))


def test_auto_falls_back_when_nothing_found(fresh_registry):
    fresh_registry.setitem(sys.modules, "engine.depth.learned", fake_learned_module(best=None))
    assert create_provider(DepthConfig()).name == "weights-free"
    assert available_providers() == ["da2-small", "weights-free"]  # best rank first


def test_auto_picks_the_best_model_found(fresh_registry):
    fresh_registry.setitem(sys.modules, "engine.depth.learned", fake_learned_module(best="da2-small"))
    provider = create_provider(DepthConfig(model="auto", device="cpu"))
    assert isinstance(provider, FakeLearned)
    assert provider.config.model == "da2-small" and provider.config.device == "cpu"
    assert isinstance(create_provider(DepthConfig(model="da2-small")), FakeLearned)


def test_unknown_and_reserved_names(fresh_registry):
    with pytest.raises(UsageError, match="unknown depth model 'midas'"):
        create_provider(DepthConfig(model="midas"))
    with pytest.raises(ValueError):
        registry.register_provider("auto", FakeLearned, rank=1)
    registry.register_provider("custom", FakeLearned, rank=3)
    assert isinstance(create_provider(DepthConfig(model="custom")), FakeLearned)
