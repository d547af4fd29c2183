"""`spatialdreamer doctor`: what this machine can do (encoders, devices, OpenGL, models)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ENCODERS = (("libx264", "h264"), ("libx265", "hevc"), ("prores_ks", "prores"), ("ffv1", "ffv1"), ("aac", "audio"))
HARDWARE_ENCODERS = ("h264_nvenc", "hevc_nvenc")


@dataclass(frozen=True)
class Check:
    """One line of the report; a failing `required` check makes doctor exit 1."""

    name: str
    ok: bool
    detail: str
    required: bool = True


def check_encoders() -> Iterator[Check]:
    import av

    for codec, role in ENCODERS:
        try:
            av.codec.Codec(codec, "w")
            yield Check(f"encoder {codec}", True, f"available ({role})")
        except Exception as exc:  # av raises several types for a missing codec
            yield Check(f"encoder {codec}", False, f"missing: {exc}")
    from engine.media.encode import encoder_refusal

    for codec in HARDWARE_ENCODERS:  # listed by FFmpeg even without a GPU: opened to tell
        why = encoder_refusal(codec)
        yield Check(f"encoder {codec}", why is None, f"usable (--codec {codec})" if why is None else
                    f"not usable here ({why}): --codec {codec} is refused", required=False)
    from engine.media.spatial import mv_hevc_usable, spatial_encoder_status

    yield Check("spatial video (MV-HEVC)", mv_hevc_usable(), f"--layout spatial: {spatial_encoder_status()}",
                required=False)


def check_devices() -> Iterator[Check]:
    import torch

    yield Check("torch", True, f"{torch.__version__}, {torch.get_num_threads()} CPU threads")
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        yield Check("cuda", True, names, required=False)
    else:
        yield Check("cuda", False, "no CUDA device: the CPU path is used", required=False)
    numba_ok = importlib.util.find_spec("numba") is not None
    yield Check("numba", numba_ok, "CPU kernels compiled with numba" if numba_ok else "not installed")


def check_opengl() -> Iterator[Check]:
    if importlib.util.find_spec("OpenGL") is None:
        yield Check("opengl", False, "PyOpenGL not installed (studio viewport needs it)", required=False)
        return
    yield Check("opengl", True, "PyOpenGL installed (the studio opens its GL context at start)", required=False)


def check_models(models_dir: Path | None) -> Iterator[Check]:
    from engine.models import resolve_models_dir, scan_models

    folder, source = resolve_models_dir(models_dir)
    statuses = scan_models(folder)
    found = [s.name for s in statuses if s.state == "ok"]
    yield Check("models folder", True, f"{folder} (from {source})", required=False)
    yield Check("depth models", bool(found), ", ".join(found) if found else
                "none found: the weights-free default is used (see `spatialdreamer models list`)", required=False)


def run_checks(models_dir: Path | None = None) -> Iterator[Check]:
    """Every check, in report order."""
    yield from check_encoders()
    yield from check_devices()
    yield from check_opengl()
    yield from check_models(models_dir)
