"""Depth-provider registry: names -> factories, and the ``auto`` choice.

Built-in: ``weights-free`` (:mod:`engine.depth.weights_free`). Learned providers
live in :mod:`engine.depth.learned`, imported lazily (it pulls in heavy
libraries) the first time a learned name or ``auto`` is asked for; importing it
is expected to call :func:`register_provider` for each name it serves, and it
may define ``find_best_model(config) -> str | None`` (the best model present in
the models folder) for ``auto``. When that module is missing, fails to import or
finds nothing, ``auto`` resolves to ``weights-free``.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import replace

from engine.depth.protocol import DepthConfig, DepthProvider
from engine.errors import ModelNotFound, UsageError
from engine.vocabulary import MODEL_NAMES

Factory = Callable[[DepthConfig], DepthProvider]

_LEARNED_MODULE = "engine.depth.learned"
_lock = threading.Lock()
_factories: dict[str, tuple[Factory, int]] = {}
_learned_import_error: BaseException | None = None
_learned_tried = False


def register_provider(name: str, factory: Factory, *, rank: int) -> None:
    """Make `name` creatable by :func:`create_provider`.

    Args:
        name: the ``--depth-model`` value (re-registering a name replaces it).
        factory: DepthConfig -> DepthProvider; may raise :class:`engine.errors.ModelNotFound`.
        rank: quality order, higher is better (:func:`available_providers` lists best first).
    """
    if not name or name == "auto":
        raise ValueError(f"cannot register a depth provider named {name!r}")
    with _lock:
        _factories[name] = (factory, rank)


def _load_learned() -> BaseException | None:
    """Import the learned providers once; returns the import error, if any."""
    global _learned_tried, _learned_import_error
    with _lock:
        if _learned_tried:
            return _learned_import_error
        _learned_tried = True
    try:
        importlib.import_module(_LEARNED_MODULE)
    except ImportError as exc:  # module absent, or a heavy dependency of it missing
        _learned_import_error = exc
    return _learned_import_error


def available_providers() -> list[str]:
    """Registered provider names, best (highest rank) first; loads the learned ones if present.

    A listed learned provider may still raise ModelNotFound on creation when its
    weights are not in the models folder.
    """
    _load_learned()
    with _lock:
        return [name for name, _ in sorted(_factories.items(), key=lambda kv: (-kv[1][1], kv[0]))]


def resolve_model_name(config: DepthConfig) -> str:
    """The concrete provider name `config` selects (``auto`` resolved); use it in cache keys."""
    name = config.model
    if name != "auto":
        return name
    if _load_learned() is None:
        module = importlib.import_module(_LEARNED_MODULE)
        find_best = getattr(module, "find_best_model", None)
        best = find_best(config) if callable(find_best) else None
        if best:
            return str(best)
    return "weights-free"


def create_provider(config: DepthConfig) -> DepthProvider:
    """Build the provider `config.model` names (``auto``: best model found, else ``weights-free``).

    Raises:
        UsageError: an unknown model name.
        ModelNotFound: a known learned model whose code or weights are not available.
    """
    name = resolve_model_name(config)
    with _lock:
        entry = _factories.get(name)
    if entry is None and name != "weights-free":
        error = _load_learned()
        with _lock:
            entry = _factories.get(name)
        if entry is None and name in MODEL_NAMES:
            detail = f" ({error})" if error is not None else ""
            raise ModelNotFound(f"depth model '{name}' is not available in this installation{detail}",
                                hint="install the 'models' extra and put the weights in the models folder, "
                                     "or use --depth-model weights-free")
    if entry is None:
        known = sorted(set(MODEL_NAMES) | set(_factories))
        raise UsageError(f"unknown depth model '{name}'", hint=f"choose one of: {', '.join(known)}")
    factory, _ = entry
    return factory(config if config.model == name else replace(config, model=name))


def _weights_free(config: DepthConfig) -> DepthProvider:
    from engine.depth.weights_free import WeightsFreeDepth

    return WeightsFreeDepth(config)


register_provider("weights-free", _weights_free, rank=0)
