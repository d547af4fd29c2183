"""engine.depth: depth providers behind one protocol, their registry, imported depth and normalisation.

Light at import: the learned providers (torch, transformers, diffusers) load only
when asked for through :func:`create_provider`.
"""

from engine.depth.protocol import DepthConfig, DepthProvider
from engine.depth.registry import available_providers, create_provider, register_provider, resolve_model_name
from engine.vocabulary import DEPTH_KINDS, MODEL_NAMES

__all__ = [
    "DEPTH_KINDS",
    "MODEL_NAMES",
    "DepthConfig",
    "DepthProvider",
    "available_providers",
    "create_provider",
    "register_provider",
    "resolve_model_name",
]
