"""Learned depth providers (Depth Anything V2, Marigold) from local weights.

:mod:`engine.depth.registry` imports this package lazily; importing it registers
one factory per learned model name (importing does not import torch,
transformers or diffusers: the factories do, when called). It offers:

* :func:`find_best_model` - the best complete model in the models folder, or None (``auto``);
* :func:`create_learned_provider` - a ready provider for one model, or
  :class:`engine.errors.ModelNotFound` saying what is missing and where to put it.
"""

from __future__ import annotations

from functools import partial

from engine.depth.protocol import DepthConfig, DepthProvider
from engine.depth.registry import register_provider
from engine.models import PREFERENCE, best_available, get_spec, require_model, resolve_models_dir

__all__ = ["create_learned_provider", "find_best_model"]


def find_best_model(config: DepthConfig) -> str | None:
    """The most preferred complete model in the models folder, or None.

    Preference: da2-large > da2-base > da2-small > marigold (see :data:`engine.models.PREFERENCE`:
    any Depth Anything V2 is far faster than diffusion and steadier on video).
    Damaged or incomplete folders are skipped; ``spatialdreamer models list`` reports them.
    """
    models_dir, _ = resolve_models_dir(config.models_dir)
    return best_available(models_dir)


def create_learned_provider(name: str, config: DepthConfig) -> DepthProvider:
    """Load model ``name`` from the models folder for ``config``'s device, precision and batch size.

    Raises:
        ModelNotFound: the folder is missing, incomplete (files listed), damaged, or
            the model libraries are not installed.
        UsageError: ``name`` is not a learned model, or bad device / precision words.
    """
    spec = get_spec(name)
    models_dir, _ = resolve_models_dir(config.models_dir)
    folder = require_model(name, models_dir)
    if spec.family == "marigold":
        from engine.depth.learned.marigold import MarigoldProvider

        return MarigoldProvider.from_folder(folder, spec, config)
    from engine.depth.learned.depth_anything import DepthAnythingProvider

    return DepthAnythingProvider.from_folder(folder, spec, config)


# Registry ranks: weights-free is 0; learned models rank above it in PREFERENCE order.
for _rank, _name in enumerate(reversed(PREFERENCE), start=10):
    register_provider(_name, partial(create_learned_provider, _name), rank=_rank)
