"""Why the OpenXR loader found no runtime, in one line: which manifest it would read and what is wrong with it.

The Linux loader takes the runtime manifest from XR_RUNTIME_JSON, else the first
`openxr/<major>/active_runtime.json` under $XDG_CONFIG_HOME (default ~/.config), each of $XDG_CONFIG_DIRS
(default /etc/xdg) and /etc. `diagnose()` follows the same order and says what it finds, so the studio's
message names the file to fix rather than only "no runtime".
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MAJOR = 1


def manifest_candidates(env: dict[str, str] | None = None) -> list[Path]:
    """The active-runtime manifest paths the loader tries, in order (XR_RUNTIME_JSON alone when set)."""
    env = os.environ if env is None else env
    if env.get("XR_RUNTIME_JSON"):
        return [Path(env["XR_RUNTIME_JSON"])]
    home = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    dirs = [d for d in (env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":") if d]
    rel = Path("openxr") / str(MAJOR) / "active_runtime.json"
    return [Path(base) / rel for base in (home, *dirs, "/etc")]


def diagnose(env: dict[str, str] | None = None) -> str:
    """One line: which manifest the loader would use and why it yields no runtime ('' when it looks fine)."""
    env = os.environ if env is None else env
    candidates = manifest_candidates(env)
    if env.get("XR_RUNTIME_JSON") and not candidates[0].is_file():
        return f"XR_RUNTIME_JSON points to {candidates[0]}, which does not exist"
    manifest = next((p for p in candidates if p.is_file()), None)
    if manifest is None:
        return "no active OpenXR runtime is set (no " + ", ".join(str(p) for p in candidates) + ")"
    try:
        library = json.loads(manifest.read_text())["runtime"]["library_path"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"the active runtime manifest {manifest} is not a readable OpenXR runtime manifest"
    path = Path(library)
    if not path.is_absolute():
        path = manifest.resolve().parent / path if "/" in library else None  # bare names: the linker's search
    if path is not None and not path.exists():
        return f"the active runtime manifest {manifest} names {path}, which is missing (reinstall that runtime)"
    return ""
