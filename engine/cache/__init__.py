"""On-disk depth & flow cache (float16, compressed, LRU-capped), keyed by media content + provider + params.

    cache = ArrayCache.from_config(load_user_config(), cache_dir=args.cache_dir, no_cache=args.no_cache)
    ns = cache.namespace("depth", cache.media_fingerprint(path), depth_params_fingerprint(cfg, name))
    depth = ns.get_or_compute(frame, lambda: provider_depth(frame))   # the second request is a file read

Memory does not grow with shot length (nothing is kept in RAM). A folder that is
not writable turns the cache off with a note (:attr:`ArrayCache.notes`) instead
of failing the job. Only this package writes the cache folder.
"""

from engine.cache.codec import (
    CACHE_VERSION,
    CorruptEntry,
    decode,
    encode,
    pack,
    prepare,
    prepare_rounded,
    roundtrip,
)
from engine.cache.evict import EvictionResult, evict
from engine.cache.fingerprint import depth_params_fingerprint, media_fingerprint, params_fingerprint
from engine.cache.store import DEFAULT_MAX_BYTES, ArrayCache, CacheNamespace
from engine.config import default_cache_dir

__all__ = [
    "CACHE_VERSION",
    "DEFAULT_MAX_BYTES",
    "ArrayCache",
    "CacheNamespace",
    "CorruptEntry",
    "EvictionResult",
    "decode",
    "default_cache_dir",
    "depth_params_fingerprint",
    "encode",
    "evict",
    "media_fingerprint",
    "pack",
    "params_fingerprint",
    "prepare",
    "prepare_rounded",
    "roundtrip",
]
