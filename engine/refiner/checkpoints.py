"""The training output folder: loadable pipeline on top, resumable checkpoints below, one loss CSV.

```
OUT/
  model_index.json, vae/, denoiser/, refiner_net/, scheduler/[, image_encoder/]   EMA weights (convert --refiner OUT)
  training.json        schema RefinerTraining.1: config, data, seed, last step, validation figures
  loss.csv             one row per optimiser step: step, loss (raw total), loss_v, loss_d, lr, sigma, seconds,
                       val_loss, val_psnr_hole, val_ssim_hole, geo_psnr_hole, geo_ssim_hole (validation rows only)
  checkpoints/step-000500/   Accelerate state (weights, optimiser, LR schedule, EMA) + trainer.json
```

A checkpoint is written into a hidden staging folder and renamed into place once complete; the pipeline on
top is swapped in with its ``model_index.json`` last, so a crash at any moment leaves the previous complete
checkpoint (and a pipeline that is either the old one, complete, or visibly incomplete).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

from engine.errors import OutputError
from engine.fileio import atomic_write_json

CHECKPOINTS = "checkpoints"
TRAINER_STATE = "trainer.json"
TRAINING_RECORD = "training.json"
LOSS_CSV = "loss.csv"
TRAINING_SCHEMA = "RefinerTraining.1"
COLUMNS = ("step", "loss", "loss_v", "loss_d", "lr", "sigma", "seconds", "val_loss", "val_psnr_hole",
           "val_ssim_hole", "geo_psnr_hole", "geo_ssim_hole")


def checkpoint_name(step: int) -> str:
    return f"step-{step:06d}"


def complete_checkpoints(out: Path) -> list[tuple[int, Path]]:
    """(step, folder) of every complete checkpoint (its trainer.json written), oldest first."""
    root = out / CHECKPOINTS
    found = []
    for folder in root.glob("step-*") if root.is_dir() else []:
        try:
            state = json.loads((folder / TRAINER_STATE).read_text(encoding="utf-8"))
            found.append((int(state["step"]), folder))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a damaged or half-deleted checkpoint is not resumable
    return sorted(found)


def latest_checkpoint(out: Path) -> tuple[int, Path] | None:
    found = complete_checkpoints(out)
    return found[-1] if found else None


def staging_folder(out: Path, step: int) -> Path:
    """A fresh hidden folder to write checkpoint `step` into."""
    path = out / CHECKPOINTS / f".{checkpoint_name(step)}.partial"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def finish_checkpoint(out: Path, staging: Path, step: int, state: dict, keep: int) -> Path:
    """Write trainer.json into `staging`, rename it to its final name, drop all but the newest `keep`."""
    atomic_write_json(staging / TRAINER_STATE, {**state, "step": step})
    final = out / CHECKPOINTS / checkpoint_name(step)
    try:
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    except OSError as exc:
        raise OutputError(f"could not move the checkpoint into place ({exc.strerror or exc})", path=final) from exc
    for _, old in complete_checkpoints(out)[:-max(1, keep)]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def clean_staging(out: Path) -> None:
    """Remove staging folders a crashed run left behind."""
    for stale in (out / CHECKPOINTS).glob(".*.partial") if (out / CHECKPOINTS).is_dir() else []:
        shutil.rmtree(stale, ignore_errors=True)
    for stale in out.glob(".pipeline-*.partial"):
        shutil.rmtree(stale, ignore_errors=True)


def install_pipeline(out: Path, staged: Path) -> None:
    """Replace the pipeline at the top of `out` with the one saved in `staged` (model_index.json last)."""
    index = out / "model_index.json"
    try:
        index.unlink(missing_ok=True)
        for item in sorted(staged.iterdir()):
            if item.name == "model_index.json":
                continue
            target = out / item.name
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            os.replace(item, target)
        os.replace(staged / "model_index.json", index)
    except OSError as exc:
        raise OutputError(f"could not write the trained pipeline ({exc.strerror or exc})", path=out) from exc
    finally:
        shutil.rmtree(staged, ignore_errors=True)


class LossLog:
    """loss.csv: one row per optimiser step, appended and flushed as training goes."""

    def __init__(self, out: Path, resume_step: int) -> None:
        self.path = out / LOSS_CSV
        rows = self.read() if resume_step > 0 else []
        kept = [r for r in rows if int(r["step"]) <= resume_step]
        with self.path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(kept)
        self._file = self.path.open("a", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._file, fieldnames=COLUMNS)

    def read(self) -> list[dict]:
        if not self.path.is_file():
            return []
        with self.path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    def write(self, row: dict) -> None:
        self._writer.writerow({k: _fmt(row.get(k)) for k in COLUMNS})
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.9g}"
    return str(value)


def read_loss_csv(path: Path) -> list[dict]:
    """Rows of a loss.csv as dicts of floats (empty cells omitted)."""
    with Path(path).open(newline="", encoding="utf-8") as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


__all__ = [
    "COLUMNS",
    "LossLog",
    "complete_checkpoints",
    "finish_checkpoint",
    "install_pipeline",
    "latest_checkpoint",
    "read_loss_csv",
]
