"""Weights on disk: checked before they are loaded, with errors that name the file and the tensor.

Two sources, both local folders in diffusers layout (nothing is ever downloaded):

* base weights for training (CONVENTIONS.md "Models"): ``svd-xt/`` (Stable Video Diffusion img2vid-xt:
  ``unet``, ``vae``, ``image_encoder``, ``scheduler``) and ``sd21/`` (Stable Diffusion 2.1: ``unet``) in the
  models folder;
* a trained SpatialDreamer pipeline folder (``model_index.json`` + one sub-folder per module), checked by
  :func:`check_pipeline_folder` before ``SpatialDreamerPipeline.from_pretrained``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from engine.errors import InvalidProject, ModelNotFound
from engine.refiner.configs import RefinerConfig
from engine.refiner.models.denoiser import SpatialDreamerUNet, expand_conv_in
from engine.refiner.models.refiner_net import RefinerNet

WEIGHT_NAMES = ("diffusion_pytorch_model.safetensors", "model.safetensors")
VARIANT_NAMES = ("diffusion_pytorch_model.fp16.safetensors", "model.fp16.safetensors")
BASE_FILES = {
    "svd-xt": ("model_index.json", "unet/config.json", "vae/config.json", "image_encoder/config.json",
               "scheduler/scheduler_config.json"),
    "sd21": ("unet/config.json",),
}
BASE_WEIGHTS = {"svd-xt": ("unet", "vae", "image_encoder"), "sd21": ("unet",)}


def weights_file(folder: Path) -> Path | None:
    """The safetensors weights of one module folder (full precision first, then the fp16 variant)."""
    for name in WEIGHT_NAMES + VARIANT_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


def missing_files(root: Path, files: tuple[str, ...], weight_folders: tuple[str, ...]) -> list[str]:
    """Relative paths under `root` that are missing (config files, and one weights file per module folder)."""
    missing = [f for f in files if not (root / f).is_file()]
    missing += [f"{sub}/{WEIGHT_NAMES[0]} (or model.safetensors / .fp16 variants)"
                for sub in weight_folders if weights_file(root / sub) is None]
    return missing


def read_config(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelNotFound("config file missing", path=path) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidProject(f"not a readable JSON config ({exc})", path=path) from exc
    if not isinstance(data, dict):
        raise InvalidProject("config is not a JSON object", path=path)
    return data


def tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape from a safetensors header (no tensor data read)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118 (safe_open API)
    except Exception as exc:  # safetensors raises its own error types for damaged headers
        raise InvalidProject(f"not a readable safetensors file ({exc})", path=path,
                             hint="The download is incomplete or damaged; fetch it again") from exc


def shape_problems(path: Path, expected: dict[str, tuple[int, ...]], optional: tuple[str, ...] = (),
                   rename: dict[str, tuple[int, ...]] | None = None) -> list[str]:
    """What does not fit between a weights file and a model: missing, unexpected and mis-shaped tensors.

    Args:
        expected: tensor name -> shape the model wants.
        optional: name prefixes the file may lack (new modules initialised by us).
        rename: names whose file shape is checked against this instead of `expected` (conv_in of SVD).
    """
    found = tensor_shapes(path)
    wanted = {**expected, **(rename or {})}
    problems = [f"tensor {k} has shape {tuple(found[k])}, the model wants {tuple(v)}"
                for k, v in wanted.items() if k in found and tuple(found[k]) != tuple(v)]
    missing = [k for k in wanted if k not in found and not k.startswith(optional)]
    extra = [k for k in found if k not in wanted]
    if missing:
        problems.append(f"{len(missing)} tensor(s) missing, e.g. {', '.join(missing[:3])}")
    if extra:
        problems.append(f"{len(extra)} unexpected tensor(s), e.g. {', '.join(extra[:3])}")
    return problems


def _expected_shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def check_weights(path: Path, model: nn.Module, optional: tuple[str, ...] = (),
                  rename: dict[str, tuple[int, ...]] | None = None) -> None:
    """Raise InvalidProject naming `path` and the first mismatching tensors when `path` does not fit `model`."""
    problems = shape_problems(path, _expected_shapes(model), optional, rename)
    if problems:
        raise InvalidProject(f"weights do not match the model: {'; '.join(problems[:3])}", path=path,
                             hint="Use weights of the architecture the config names")


def load_state(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path), device="cpu")


def require_base(models_dir: Path, name: str) -> Path:
    """The base-weights folder `name` (``svd-xt`` or ``sd21``) in the models folder, checked complete.

    Raises:
        ModelNotFound: the folder or some of its files are missing (all of them listed).
    """
    folder = models_dir / name
    missing = missing_files(folder, BASE_FILES[name], BASE_WEIGHTS[name])
    if missing:
        what = "not found" if not folder.is_dir() else f"incomplete: missing {', '.join(missing)}"
        raise ModelNotFound(f"base weights {what}", path=folder,
                            hint=f"Put the diffusers-layout {name} folder there (--models-dir to look elsewhere)")
    return folder


def denoiser_from_svd(folder: Path, config: RefinerConfig) -> SpatialDreamerUNet:
    """SVD img2vid-xt's UNet as our denoiser: 9 input channels (the extra one zero), stereo embedding zero."""
    unet_dir = folder / "unet"
    svd = read_config(unet_dir / "config.json")
    keep = {k: v for k, v in svd.items() if not k.startswith("_") and k not in ("in_channels", "out_channels")}
    c = config.latent_channels
    model = SpatialDreamerUNet(**{**keep, "in_channels": 2 * c + 1, "out_channels": c,
                                  "stereo_embed_dim": config.denoiser.get("stereo_embed_dim", 128)})
    path = weights_file(unet_dir)
    conv = model.conv_in.weight
    check_weights(path, model, optional=("stereo_embedding.",),
                  rename={"conv_in.weight": (conv.shape[0], int(svd.get("in_channels", 8)), *conv.shape[2:])})
    state = load_state(path)
    state["conv_in.weight"] = expand_conv_in(state["conv_in.weight"], conv.shape[1])
    model.load_state_dict(state, strict=False)
    return model


def refiner_net_from_sd21(folder: Path) -> RefinerNet:
    """SD 2.1's UNet as RefinerNet (same weights, same names)."""
    unet_dir = folder / "unet"
    cfg = {k: v for k, v in read_config(unet_dir / "config.json").items() if not k.startswith("_")}
    model = RefinerNet.from_config(cfg)
    path = weights_file(unet_dir)
    check_weights(path, model)
    model.load_state_dict(load_state(path))
    return model


def _load_module(cls, folder: Path):
    """A diffusers/transformers module from a local folder after checking its weights' shapes."""
    cfg = read_config(folder / "config.json")
    if hasattr(cls, "from_config"):
        model = cls.from_config({k: v for k, v in cfg.items() if not k.startswith("_")})
    else:  # transformers
        model = cls(cls.config_class(**cfg))
    path = weights_file(folder)
    check_weights(path, model)
    model.load_state_dict(load_state(path), strict=True)
    return model


def components_from_base(config: RefinerConfig, models_dir: Path) -> dict:
    """The svd-xt config's modules initialised from ``svd-xt/`` and ``sd21/`` in `models_dir`."""
    from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler
    from transformers import CLIPVisionModelWithProjection

    svd, sd21 = require_base(models_dir, "svd-xt"), require_base(models_dir, "sd21")
    scheduler_cfg = read_config(svd / "scheduler" / "scheduler_config.json")
    return {
        "vae": _load_module(AutoencoderKLTemporalDecoder, svd / "vae"),
        "image_encoder": _load_module(CLIPVisionModelWithProjection, svd / "image_encoder"),
        "denoiser": denoiser_from_svd(svd, config),
        "refiner_net": refiner_net_from_sd21(sd21),
        "scheduler": EulerDiscreteScheduler.from_config(scheduler_cfg),
    }


def check_pipeline_folder(folder: Path) -> dict:
    """Check a trained SpatialDreamer pipeline folder; return its model_index.json.

    Every module listed must have its config and a weights file whose tensors fit the config's
    architecture (shapes read from the safetensors header, checked against the model built on the meta
    device).

    Raises:
        ModelNotFound: the folder, model_index.json, a config or a weights file is missing (all listed).
        InvalidProject: not a SpatialDreamer pipeline, or weights that do not fit their config.
    """
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        raise ModelNotFound("no refiner here (model_index.json missing)" if folder.is_dir() else "refiner not found",
                            path=folder, hint="Train one with `spatialdreamer train-refiner`, or check the name")
    index = read_config(index_path)
    if index.get("_class_name") != "SpatialDreamerPipeline":
        raise InvalidProject(f"model_index.json is a {index.get('_class_name')!r}, not a SpatialDreamerPipeline",
                             path=index_path)
    modules = {k: v for k, v in index.items()
               if not k.startswith("_") and isinstance(v, list) and len(v) == 2 and v[0] is not None}
    weighted = tuple(k for k in modules if k != "scheduler")
    files = tuple(f"{k}/config.json" for k in weighted) + (("scheduler/scheduler_config.json",)
                                                           if "scheduler" in modules else ())
    missing = missing_files(folder, files, weighted)
    if missing:
        raise ModelNotFound(f"refiner incomplete: missing {', '.join(missing)}", path=folder,
                            hint="Copy the whole folder, or re-run train-refiner to write it again")
    for name in weighted:
        _check_module_folder(folder / name, tuple(modules[name]))
    return index


def _check_module_folder(folder: Path, library_class: tuple[str, str]) -> None:
    import importlib

    from accelerate import init_empty_weights

    library, class_name = library_class
    try:
        cls = getattr(importlib.import_module(library), class_name)
    except (ImportError, AttributeError) as exc:
        raise InvalidProject(f"unknown module class {library}.{class_name}", path=folder) from exc
    cfg = {k: v for k, v in read_config(folder / "config.json").items() if not k.startswith("_")}
    with init_empty_weights():
        try:
            model = cls.from_config(cfg) if hasattr(cls, "from_config") else cls(cls.config_class(**cfg))
        except (TypeError, ValueError) as exc:
            raise InvalidProject(f"config does not describe a {class_name} ({exc})",
                                 path=folder / "config.json") from exc
    check_weights(weights_file(folder), model)
