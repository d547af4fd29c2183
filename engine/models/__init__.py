"""The models folder: where learned weights live, what each model needs, what is there.

Every learned model has its own sub-folder of the models folder, named as its
``--depth-model`` value (``da2-small/``, ``marigold/`` ...), holding the files of
its Hugging Face repository in the same layout. Nothing here downloads: the repo
ids are hints printed for the user. The folder is chosen by
:func:`resolve_models_dir` (``--models-dir`` > ``SPATIALDREAMER_MODELS`` > the user
config's ``models_dir`` > ``$XDG_DATA_HOME/spatialdreamer/models``).

Checks are cheap (no weights are loaded): required files present, JSON files
parse, safetensors headers are whole and the file is as long as its header
says, ``.bin`` files are whole zip archives, and the config names the right
architecture. Loading itself re-checks shapes (see :mod:`engine.depth.learned`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from engine.config import default_models_dir, load_user_config, user_config_path
from engine.errors import ModelNotFound, UsageError

ENV_MODELS_DIR = "SPATIALDREAMER_MODELS"
_MAX_SAFETENSORS_HEADER = 100_000_000


@dataclass(frozen=True)
class ModelSpec:
    """What one learned model's folder must hold.

    Attributes:
        name: the ``--depth-model`` value and the sub-folder name.
        family: ``depth-anything`` | ``marigold`` (which loader reads it).
        title: human-readable name.
        repo_id: the Hugging Face repository whose files belong in the folder (a hint; never fetched).
        required: each entry is a tuple of alternatives (paths relative to the
            folder); at least one alternative of every entry must exist.
        identity: (json file, key, expected value) checks that the folder holds this architecture.
        size: approximate download size, for the hint.
    """

    name: str
    family: str
    title: str
    repo_id: str
    required: tuple[tuple[str, ...], ...]
    identity: tuple[tuple[str, str, str], ...]
    size: str


@dataclass(frozen=True)
class ModelStatus:
    """What was found for one model in the models folder.

    Attributes:
        name: the model's flag value.
        path: its sub-folder (whether or not it exists).
        state: ``ok`` | ``missing`` (no folder / empty) | ``incomplete`` (required
            files absent) | ``corrupt`` (files present but damaged or of another model).
        missing_files: required files not found (alternatives joined with `` or ``).
        hint: what to put where.
        problem: for ``corrupt``, what is wrong and in which file.
    """

    name: str
    path: Path
    state: str
    missing_files: tuple[str, ...]
    hint: str
    problem: str = ""


def _component(folder: str, weights: str, *, fp16: bool = True) -> tuple[tuple[str, ...], ...]:
    """Required files of one diffusers/transformers component: its config and one weights file."""
    stem, _, ext = weights.rpartition(".")
    alternatives = [f"{folder}/{weights}"]
    if fp16:
        alternatives.append(f"{folder}/{stem}.fp16.{ext}")
    bin_stem = "pytorch_model" if stem == "model" else stem
    alternatives.append(f"{folder}/{bin_stem}.bin")
    return ((f"{folder}/config.json",), tuple(alternatives))


def _da2_spec(name: str, size_word: str, size: str) -> ModelSpec:
    return ModelSpec(
        name=name,
        family="depth-anything",
        title=f"Depth Anything V2 {size_word}",
        repo_id=f"depth-anything/Depth-Anything-V2-{size_word}-hf",
        required=(("config.json",), ("model.safetensors", "pytorch_model.bin")),
        identity=(("config.json", "model_type", "depth_anything"),),
        size=size,
    )


MODEL_SPECS: dict[str, ModelSpec] = {
    "da2-small": _da2_spec("da2-small", "Small", "100 MB"),
    "da2-base": _da2_spec("da2-base", "Base", "390 MB"),
    "da2-large": _da2_spec("da2-large", "Large", "1.3 GB"),
    "marigold": ModelSpec(
        name="marigold",
        family="marigold",
        title="Marigold depth v1.1 (diffusion)",
        repo_id="prs-eth/marigold-depth-v1-1",
        required=(
            ("model_index.json",),
            ("scheduler/scheduler_config.json",),
            *_component("unet", "diffusion_pytorch_model.safetensors"),
            *_component("vae", "diffusion_pytorch_model.safetensors"),
            *_component("text_encoder", "model.safetensors"),
            ("tokenizer/vocab.json", "tokenizer/tokenizer.json"),
            ("tokenizer/merges.txt", "tokenizer/tokenizer.json"),
        ),
        identity=(("model_index.json", "_class_name", "MarigoldDepthPipeline"),),
        size="2.6 GB, or 1.3 GB as the fp16 variant",
    ),
}


def _base_component(folder: str) -> tuple[tuple[str, ...], ...]:
    """A base-weights module folder: its config and one safetensors file (what the refiner's loader reads)."""
    names = ("diffusion_pytorch_model", "model")
    return ((f"{folder}/config.json",),
            tuple(f"{folder}/{n}{v}.safetensors" for n in names for v in ("", ".fp16")))


# The refiner's base weights for training (`train-refiner --config svd-xt`; CONVENTIONS.md "Models"): what
# engine.refiner.models.loading reads from them, as `models get svd-xt|sd21` fetches them.
BASE_SPECS: dict[str, ModelSpec] = {
    "svd-xt": ModelSpec(
        name="svd-xt", family="refiner-base", title="Stable Video Diffusion img2vid-xt (refiner base)",
        repo_id="stabilityai/stable-video-diffusion-img2vid-xt",
        required=(("model_index.json",), ("scheduler/scheduler_config.json",), *_base_component("unet"),
                  *_base_component("vae"), *_base_component("image_encoder")),
        identity=(("unet/config.json", "_class_name", "UNetSpatioTemporalConditionModel"),),
        size="4.5 GB as the fp16 variant"),
    "sd21": ModelSpec(
        name="sd21", family="refiner-base", title="Stable Diffusion 2.1 (RefinerNet base)",
        repo_id="stabilityai/stable-diffusion-2-1", required=_base_component("unet"),
        identity=(("unet/config.json", "_class_name", "UNet2DConditionModel"),),
        size="2.6 GB as the fp16 variant"),
}

# Best first. Any Depth Anything V2 beats Marigold for video: one forward pass
# per frame (Marigold is a diffusion model, ~1 s/frame on a GPU) and a smoother
# frame-to-frame signal; within DA2, larger is more accurate.
PREFERENCE = ("da2-large", "da2-base", "da2-small", "marigold")


def resolve_models_dir(explicit: Path | None = None) -> tuple[Path, str]:
    """Which models folder to use, and what decided it.

    Precedence: ``explicit`` (``--models-dir``) > env ``SPATIALDREAMER_MODELS`` >
    ``models_dir`` in the user config file > ``$XDG_DATA_HOME/spatialdreamer/models``.

    Returns:
        (folder, source), source one of ``--models-dir``, ``SPATIALDREAMER_MODELS``,
        ``config file <path>``, ``default``.

    Raises:
        InvalidProject: the user config file is malformed (only read when it decides).
    """
    if explicit is not None:
        return Path(explicit).expanduser().absolute(), "--models-dir"
    env = os.environ.get(ENV_MODELS_DIR, "").strip()
    if env:
        return Path(env).expanduser().absolute(), ENV_MODELS_DIR
    config = load_user_config()
    if config.models_dir is not None:
        return config.models_dir.absolute(), f"config file {user_config_path()}"
    return default_models_dir(), "default"


def get_spec(name: str) -> ModelSpec:
    """The spec of a learned model by flag value.

    Raises:
        UsageError: not a learned model name.
    """
    if name not in MODEL_SPECS:
        known = ", ".join(MODEL_SPECS)
        raise UsageError(f"'{name}' is not a learned depth model", hint=f"Use one of: {known}")
    return MODEL_SPECS[name]


def _missing(folder: Path, spec: ModelSpec) -> tuple[str, ...]:
    """Required entries none of whose alternatives exists, as display strings."""
    return tuple(
        " or ".join(alternatives)
        for alternatives in spec.required
        if not any((folder / rel).is_file() for rel in alternatives)
    )


def _json_problem(path: Path, label: str) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"{label} is not valid JSON ({exc})"
    return None if isinstance(data, dict) else f"{label} is not a JSON object"


def _safetensors_problem(path: Path, label: str) -> str | None:
    """Check a safetensors file's header and that the file is exactly as long as it says."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(8)
        header_len = int.from_bytes(head, "little") if len(head) == 8 else -1
        if header_len <= 0 or header_len > _MAX_SAFETENSORS_HEADER or 8 + header_len > size:
            return f"{label} is truncated or not a safetensors file ({size} bytes)"
        try:
            header = json.loads(handle.read(header_len))
            end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            return f"{label} has a damaged header"
    expected = 8 + header_len + end
    if expected != size:
        return f"{label} is truncated or damaged ({size} bytes, its header says {expected})"
    return None


def _weights_problem(path: Path, label: str) -> str | None:
    if path.suffix == ".safetensors":
        return _safetensors_problem(path, label)
    if path.suffix == ".bin" and not zipfile.is_zipfile(path):
        return f"{label} is truncated or not a torch checkpoint"
    return None


def _identity_problem(folder: Path, spec: ModelSpec) -> str | None:
    for rel, key, expected in spec.identity:
        value = json.loads((folder / rel).read_text(encoding="utf-8")).get(key)
        if value != expected:
            return f"{rel} describes '{value}', not {spec.title} ({key} should be '{expected}')"
    return None


def _corruption(folder: Path, spec: ModelSpec) -> str | None:
    """The first problem with the present files (relative path + what), or None."""
    present = dict.fromkeys(rel for alternatives in spec.required for rel in alternatives)
    for rel in (r for r in present if (folder / r).is_file()):
        check = _json_problem if rel.endswith(".json") else _weights_problem
        problem = check(folder / rel, rel)
        if problem:
            return problem
    return _identity_problem(folder, spec)


def _hint(spec: ModelSpec, folder: Path, again: bool = False) -> str:
    verb = "delete the folder and put the files" if again else "put the files"
    return (
        f"Run `spatialdreamer models get {spec.name}`, or {verb} of the Hugging Face repo {spec.repo_id}"
        f" ({spec.size}) into {folder} (e.g. `hf download {spec.repo_id} --local-dir {folder}`)"
    )


def check_model(name: str, models_dir: Path) -> ModelStatus:
    """The state of one model's sub-folder of ``models_dir`` (cheap checks, nothing loaded)."""
    return check_spec(get_spec(name), models_dir)


def check_spec(spec: ModelSpec, models_dir: Path) -> ModelStatus:
    """The state of the sub-folder of ``models_dir`` that `spec` describes (cheap checks, nothing loaded)."""
    folder = Path(models_dir) / spec.name
    missing = _missing(folder, spec)
    hint = _hint(spec, folder)
    if not folder.is_dir() or not any(folder.iterdir()):
        return ModelStatus(spec.name, folder, "missing", missing, hint)
    if missing:
        return ModelStatus(spec.name, folder, "incomplete", missing, hint)
    problem = _corruption(folder, spec)
    if problem:
        return ModelStatus(spec.name, folder, "corrupt", (), _hint(spec, folder, again=True), problem)
    return ModelStatus(spec.name, folder, "ok", (), "")


def scan_models(models_dir: Path) -> list[ModelStatus]:
    """The state of every known learned model in ``models_dir``, in preference order."""
    return [check_model(name, models_dir) for name in PREFERENCE]


def scan_base_weights(models_dir: Path) -> list[ModelStatus]:
    """The state of the refiner's base weights (``svd-xt/``, ``sd21/``) in ``models_dir``."""
    return [check_spec(spec, models_dir) for spec in BASE_SPECS.values()]


def _is_refiner(folder: Path) -> bool:
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(index, dict) and index.get("_class_name") == "SpatialDreamerPipeline"


def refiner_status(folder: Path, name: str) -> ModelStatus:
    """A trained refiner folder checked as `convert --refiner` checks it (every module's files and shapes)."""
    from engine.errors import InvalidProject
    from engine.refiner.models.loading import check_pipeline_folder

    try:
        check_pipeline_folder(folder)
    except ModelNotFound as exc:
        return ModelStatus(name, folder, "incomplete", (exc.message,), exc.hint or "")
    except InvalidProject as exc:
        return ModelStatus(name, folder, "corrupt", (), exc.hint or "Train it again (train-refiner --out)",
                           exc.message)
    return ModelStatus(name, folder, "ok", (), "")


def shipped_refiners() -> list[Path]:
    """The ``resources/refiner/`` folders of the installed package (where shipped refiners live)."""
    spec = importlib.util.find_spec("resources")
    locations = [] if spec is None or spec.submodule_search_locations is None else spec.submodule_search_locations
    return [Path(loc) / "refiner" for loc in locations if (Path(loc) / "refiner").is_dir()]


def scan_refiners(models_dir: Path, shipped: list[Path] | None = None) -> list[ModelStatus]:
    """Every trained refiner a `--refiner NAME` finds: sub-folders of ``models_dir`` holding a SpatialDreamer
    pipeline, then the refiners shipped in ``resources/refiner/`` (a name in both: the models folder's wins)."""
    roots = [Path(models_dir), *(shipped_refiners() if shipped is None else shipped)]
    found: dict[str, Path] = {}
    for root in roots:
        for folder in sorted(root.iterdir()) if root.is_dir() else []:
            if folder.is_dir() and folder.name not in found and _is_refiner(folder):
                found[folder.name] = folder
    return [refiner_status(folder, name) for name, folder in found.items()]


def best_available(models_dir: Path) -> str | None:
    """The most preferred model whose folder is ``ok``, or None."""
    return next((s.name for s in scan_models(models_dir) if s.state == "ok"), None)


def require_model(name: str, models_dir: Path) -> Path:
    """The folder of a requested model, checked complete and undamaged.

    Raises:
        ModelNotFound: folder missing, files missing (listed) or damaged (named),
            with the repo to download and where to put it.
        UsageError: ``name`` is not a learned model.
    """
    status = check_model(name, models_dir)
    if status.state == "ok":
        return status.path
    if status.state == "corrupt":
        message = f"the {name} model files are damaged: {status.problem}"
    elif status.state == "missing":
        message = f"the {name} model is not installed (no folder or an empty one)"
    else:
        message = f"the {name} model is incomplete; missing: {', '.join(status.missing_files)}"
    raise ModelNotFound(message, path=status.path, hint=status.hint)


def format_models_table(statuses: list[ModelStatus], models_dir: Path | None = None, source: str = "") -> str:
    """Rows for ``spatialdreamer models list``: state per model, then what is missing and where to put it."""
    lines = []
    if models_dir is not None:
        lines.append(f"Models folder: {models_dir}" + (f"  (from {source})" if source else ""))
    width = max([len(s.name) for s in statuses] + [5])
    lines.append(f"{'MODEL':<{width}}  {'STATE':<10}  FOLDER")
    for status in statuses:
        lines.append(f"{status.name:<{width}}  {status.state:<10}  {status.path}")
        pad = " " * (width + 2)
        if status.problem:
            lines.append(f"{pad}problem: {status.problem}")
        if status.state == "incomplete":
            lines.extend(f"{pad}missing: {rel}" for rel in status.missing_files)
        if status.hint:
            lines.append(f"{pad}{status.hint}")
    return "\n".join(lines)
