"""`spatialdreamer models get NAME`: fetch a model's files from the Hugging Face Hub, the product's only network path.

Runs only when the user asks. One table (:data:`HUB_SOURCES`) names each model's repository, the
revision it is pinned to, the files it needs and its licence. A download:

1. checks the models folder can be written (before any network access);
2. asks the Hub (``huggingface_hub.HfApi.model_info`` with blob metadata: ``GET
   /api/models/{repo}/revision/{rev}?blobs=true``) for the pinned revision's file list, sizes and
   checksums (the LFS sha256 of large files, the git blob sha1 of small ones); a gated repository
   is asked with the user's token (``HF_TOKEN`` or ``hf auth login``);
3. shows the licence and requires it accepted (``--accept-licence`` for scripts);
4. checks the free space, then streams each file (``GET /{repo}/resolve/{commit}/{file}``, with a
   ``Range`` header to resume a ``.part`` left by an interrupted run) into a staging folder beside
   the model folder, hashing as it goes; a file whose checksum or size is wrong is deleted and the
   download fails (rerun to fetch it again);
5. writes a manifest (``spatialdreamer-model.json``, schema ``ModelDownload.1``) and swaps the
   staging folder in for the model folder in one rename (an atomic exchange on Linux), so the old
   model stays usable until the new one is complete.

Errors are the engine's typed ones: an unknown name is a UsageError listing the valid ones; no
network, a gated or missing repository, a corrupted file are ModelNotFound with what to do; an
unwritable folder or a full disk are OutputError (the partial file removed, the old model untouched).
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from engine.errors import ModelNotFound, OutputError, UsageError
from engine.fileio import atomic_write_json, replace_folder
from engine.progress import CancelToken, Progress

MANIFEST = "spatialdreamer-model.json"
MANIFEST_SCHEMA = "ModelDownload.1"
STATE = ".download-state.json"
DEFAULT_ENDPOINT = "https://huggingface.co"
CHUNK = 1 << 20
TIMEOUT_S = 10.0
SPACE_MARGIN = 64 << 20


@dataclass(frozen=True)
class HubSource:
    """Where one model's files come from.

    Attributes:
        name: the models-folder sub-folder and ``models get`` name.
        repo_id: the Hugging Face repository.
        revision: the commit the download is pinned to (40 hex digits); None = not pinned in this
            release (the Hub's current ``main`` is resolved to a commit, shown and recorded).
        files: glob patterns of the repository files to fetch.
        licence: SPDX-like licence id as the model card declares it.
        licence_url: where to read it.
        terms: the one-line gist the user accepts.
        gated: the Hub asks for a logged-in user who accepted the terms on the model page.
    """

    name: str
    repo_id: str
    revision: str | None
    files: tuple[str, ...]
    licence: str
    licence_url: str
    terms: str
    gated: bool = False


def _da2(name: str, size: str, revision: str, licence: str, terms: str) -> HubSource:
    repo = f"depth-anything/Depth-Anything-V2-{size}-hf"
    return HubSource(name, repo, revision, ("config.json", "preprocessor_config.json", "model.safetensors",
                                            "README.md"),
                     licence, f"https://huggingface.co/{repo}", terms)


def _diffusers_fp16(*components: str) -> tuple[str, ...]:
    out = ["model_index.json", "README.md", "scheduler/*.json"]
    for component in components:
        if component in ("tokenizer", "feature_extractor"):
            out.append(f"{component}/*")
        else:
            out += [f"{component}/config.json", f"{component}/*.fp16.safetensors"]
    return tuple(out)


NON_COMMERCIAL = "CC BY-NC 4.0: non-commercial use only, with attribution"
HUB_SOURCES: dict[str, HubSource] = {
    "da2-small": _da2("da2-small", "Small", "5426e4f0f36572d16453bbda7a8389317b1bef99", "apache-2.0",
                      "Apache 2.0: any use, keep the licence and notices"),
    "da2-base": _da2("da2-base", "Base", "b1958afc87fb45a9e3746cb387596094de553ed8", "cc-by-nc-4.0", NON_COMMERCIAL),
    "da2-large": _da2("da2-large", "Large", "7581137eff8d4e94f6e796d3baea0e9fa79b22d2", "cc-by-nc-4.0",
                      NON_COMMERCIAL),
    "marigold": HubSource("marigold", "prs-eth/marigold-depth-v1-1", None,
                          _diffusers_fp16("unet", "vae", "text_encoder", "tokenizer"), "openrail++",
                          "https://huggingface.co/prs-eth/marigold-depth-v1-1",
                          "CreativeML Open RAIL++-M: use restrictions apply (see the licence)"),
    "svd-xt": HubSource("svd-xt", "stabilityai/stable-video-diffusion-img2vid-xt",
                        "9e43909513c6714f1bc78bcb44d96e733cd242aa",
                        _diffusers_fp16("unet", "vae", "image_encoder", "feature_extractor"),
                        "other (Stability AI Community License)",
                        "https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt",
                        "Stability AI Community License: research and limited commercial use", gated=True),
    "sd21": HubSource("sd21", "stabilityai/stable-diffusion-2-1", "5cae40e6a2745ae2b01ad92ae5043f95f23644d6",
                      _diffusers_fp16("unet", "vae", "text_encoder", "tokenizer"), "openrail++",
                      "https://huggingface.co/stabilityai/stable-diffusion-2-1",
                      "CreativeML Open RAIL++-M: use restrictions apply (see the licence)"),
}


@dataclass(frozen=True)
class RemoteFile:
    """One file of the pinned revision: its path, size and checksum (sha256 for LFS, git blob sha1 otherwise)."""

    path: str
    size: int
    digest: str
    algorithm: str  # "sha256" | "git-sha1"


def get_source(name: str) -> HubSource:
    """The table entry of `name`; UsageError listing the valid names otherwise."""
    if name not in HUB_SOURCES:
        raise UsageError(f"no downloadable model named '{name}'", hint=f"Use one of: {', '.join(HUB_SOURCES)}")
    return HUB_SOURCES[name]


def hub_endpoint(endpoint: str | None = None) -> str:
    """`endpoint`, else ``HF_ENDPOINT`` (read now, not at import), else the public Hub."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def licence_text(source: HubSource, hub_licence: str | None, commit: str) -> str:
    """What the user reads before accepting."""
    declared = f" (the model card at this revision says: {hub_licence})" if hub_licence and \
        hub_licence != source.licence else ""
    gated = "\nThis repository is gated: accept its conditions on the model page first." if source.gated else ""
    return (f"{source.repo_id} @ {commit[:12]} is licensed {source.licence}{declared}.\n"
            f"{source.terms}.\nRead it at {source.licence_url}{gated}")


def download_model(
    name: str,
    models_dir: Path,
    *,
    accept_licence: bool = False,
    confirm: Callable[[str], bool] | None = None,
    token: str | bool | None = None,
    endpoint: str | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[Progress]:
    """Download `name` into ``models_dir/name`` (swapped in when complete); yields Progress.

    Args:
        name: a :data:`HUB_SOURCES` key.
        models_dir: the models folder (created when missing).
        accept_licence: the licence is accepted without asking.
        confirm: shows the licence text and returns whether the user accepts (None: not accepted
            unless `accept_licence`).
        token: Hub token; None = the user's (``HF_TOKEN``, ``hf auth login``); False = none.
        endpoint: Hub URL; None = ``HF_ENDPOINT`` or the public Hub.
        cancel: checked between chunks; a cancelled download keeps its ``.part`` file to resume.
    Yields:
        Progress("listing"|"download"|"verify"|"install", done, total, message); download counts KiB.
    Raises:
        UsageError: unknown name, licence not accepted. OutputError: folder not writable, disk full.
        ModelNotFound: no network, gated / missing repository or revision, corrupted download.
    """
    source = get_source(name)
    cancel = cancel or CancelToken()
    models_dir = Path(models_dir).expanduser().absolute()
    _check_writable(models_dir)
    yield Progress("listing", 0, 1, message=f"{source.repo_id}")
    commit, files, hub_licence = _listing(source, hub_endpoint(endpoint), token)
    yield Progress("listing", 1, 1, message=f"{len(files)} files, {_human(sum(f.size for f in files))}")
    text = licence_text(source, hub_licence, commit)
    if not accept_licence and not (confirm is not None and confirm(text)):
        raise UsageError(f"the licence of {name} ({source.licence}) was not accepted",
                         hint="read it, then rerun with --accept-licence to accept it")
    staging = models_dir / f".{name}.download"
    _prepare_staging(staging, source, commit)
    yield from _fetch_all(source, commit, files, staging, hub_endpoint(endpoint), token, cancel)
    _write_manifest(staging, source, commit, files, hub_licence)
    target = models_dir / name
    _swap_in(staging, target)
    yield Progress("install", 1, 1, message=str(target))


# ------------------------------------------------------------------------------------------- listing


def _check_writable(models_dir: Path) -> None:
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        probe = models_dir / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"the models folder is not writable ({exc.strerror or exc})", path=models_dir,
                          hint="choose another folder with --models-dir or fix its permissions") from exc


def _listing(source: HubSource, endpoint: str, token: str | bool | None) -> tuple[str, list[RemoteFile], str | None]:
    """(commit, the files to fetch, the licence the card declares) of the pinned revision."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    revision = source.revision or "main"
    api = HfApi(endpoint=endpoint, token=token)
    try:
        info = api.model_info(source.repo_id, revision=revision, files_metadata=True, timeout=TIMEOUT_S)
    except GatedRepoError as exc:
        raise ModelNotFound(f"{source.repo_id} is gated and this user may not download it yet",
                            hint=f"accept its conditions at {source.licence_url}, then log in (`hf auth login`) "
                                 "or set HF_TOKEN") from exc
    except RevisionNotFoundError as exc:
        raise ModelNotFound(f"{source.repo_id} has no revision {revision}",
                            hint="the pinned revision was removed upstream; update spatialdreamer") from exc
    except RepositoryNotFoundError as exc:
        raise ModelNotFound(f"{source.repo_id} was not found on {endpoint}",
                            hint="check HF_ENDPOINT, or log in if the repository is private") from exc
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", "?")
        raise ModelNotFound(f"the Hub at {endpoint} refused the file list of {source.repo_id} (HTTP {status})",
                            hint="try again later") from exc
    except Exception as exc:  # httpx connection errors, timeouts, DNS, offline mode
        if not _is_network_error(exc):
            raise
        raise _offline_error(source, endpoint, exc) from exc
    commit = info.sha or revision
    files = _select(source, info.siblings or [])
    licence = getattr(info.card_data, "license", None) if info.card_data is not None else None
    return commit, files, licence


def _is_network_error(exc: BaseException) -> bool:
    import httpx2 as httpx  # noqa: F401  (huggingface_hub's HTTP client)

    names = {"ConnectError", "TimeoutException", "ConnectTimeout", "ReadTimeout", "NetworkError", "ProxyError",
             "OfflineModeIsEnabled", "RemoteProtocolError", "ReadError", "WriteError"}
    return any(cls.__name__ in names for cls in type(exc).__mro__) or isinstance(exc, OSError)


def _offline_error(source: HubSource, endpoint: str, exc: BaseException) -> ModelNotFound:
    rev = f" --revision {source.revision}" if source.revision else ""
    return ModelNotFound(
        f"cannot reach the Hugging Face Hub at {endpoint} ({type(exc).__name__})",
        hint=f"check the network; offline, copy the files from a machine that has it: `hf download "
             f"{source.repo_id}{rev} --local-dir DIR`, then move DIR to the models folder as '{source.name}'")


def _select(source: HubSource, siblings: list[Any]) -> list[RemoteFile]:
    files: list[RemoteFile] = []
    for pattern in source.files:
        matched = [s for s in siblings if fnmatch.fnmatch(s.rfilename, pattern)]
        if not matched and not pattern.endswith("README.md"):
            raise ModelNotFound(f"{source.repo_id} at the pinned revision has no file matching '{pattern}'",
                                hint="the upstream repository changed; update spatialdreamer")
        for s in matched:
            if any(f.path == s.rfilename for f in files):
                continue
            if s.lfs is not None:
                files.append(RemoteFile(s.rfilename, int(s.lfs.size), str(s.lfs.sha256).lower(), "sha256"))
            elif s.blob_id is not None and s.size is not None:
                files.append(RemoteFile(s.rfilename, int(s.size), str(s.blob_id).lower(), "git-sha1"))
            else:
                raise ModelNotFound(f"the Hub sent no checksum for {s.rfilename}",
                                    hint="check HF_ENDPOINT points to a Hugging Face Hub")
    return files


def _human(size: int) -> str:
    return f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB"


# ------------------------------------------------------------------------------------------ fetching


def _prepare_staging(staging: Path, source: HubSource, commit: str) -> None:
    """Keep a staging folder of the same commit (to resume); start afresh otherwise."""
    state = staging / STATE
    try:
        old = json.loads(state.read_text())
    except (OSError, ValueError):
        old = None
    if old is None or old.get("repo_id") != source.repo_id or old.get("commit") != commit:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        atomic_write_json(state, {"repo_id": source.repo_id, "commit": commit, "verified": []})


def _verified(staging: Path) -> set[str]:
    try:
        return set(json.loads((staging / STATE).read_text()).get("verified", []))
    except (OSError, ValueError):
        return set()


def _mark_verified(staging: Path, path: str) -> None:
    state = json.loads((staging / STATE).read_text())
    state["verified"] = sorted({*state.get("verified", []), path})
    atomic_write_json(staging / STATE, state)


def _kib(n: int) -> int:
    return (n + 1023) // 1024


def _fetch_all(source: HubSource, commit: str, files: list[RemoteFile], staging: Path, endpoint: str,
               token: str | bool | None, cancel: CancelToken) -> Iterator[Progress]:
    """Fetch every file not yet verified; Progress("download", KiB done, KiB total, current file)."""
    total = sum(f.size for f in files)
    done_files = _verified(staging)
    done = sum(f.size for f in files if f.path in done_files and (staging / f.path).is_file())
    need = total - done - sum(_part(staging, f).stat().st_size for f in files
                              if f.path not in done_files and _part(staging, f).is_file())
    free = shutil.disk_usage(staging).free
    if need + SPACE_MARGIN > free:
        raise OutputError(f"not enough free space for {source.name}: {_human(need)} to download, "
                          f"{_human(free)} free", path=staging.parent,
                          hint="free some space or choose another folder with --models-dir")
    yield Progress("download", _kib(done), _kib(total))
    for f in files:
        if f.path in done_files and (staging / f.path).is_file():
            continue
        for step in _fetch_one(source, commit, f, staging, endpoint, token, cancel):
            yield Progress("download", _kib(done + step), _kib(total), message=f.path)
        done += f.size
        _mark_verified(staging, f.path)
    yield Progress("verify", len(files), len(files))


def _part(staging: Path, f: RemoteFile) -> Path:
    return staging / (f.path + ".part")


def _open_part(path: Path, mode: str) -> BinaryIO:
    """Where downloaded bytes go (one seam, so a test can stand in a full disk)."""
    return open(path, mode)


def _hasher(f: RemoteFile):
    if f.algorithm == "sha256":
        return hashlib.sha256()
    h = hashlib.sha1()
    h.update(f"blob {f.size}\0".encode())
    return h


def _fetch_one(source: HubSource, commit: str, f: RemoteFile, staging: Path, endpoint: str,
               token: str | bool | None, cancel: CancelToken) -> Iterator[int]:
    """Stream one file into its .part (resuming), verify it, move it in place; yields bytes so far."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    part = _part(staging, f)
    part.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.is_file() else 0
    if have > f.size:
        part.unlink()
        have = 0
    hasher = _hasher(f)
    if have:
        with part.open("rb") as old:
            for block in iter(lambda: old.read(CHUNK), b""):
                hasher.update(block)
    url = hf_hub_url(source.repo_id, f.path, revision=commit, endpoint=endpoint)
    headers = build_hf_headers(token=token, library_name="spatialdreamer")
    headers["Accept-Encoding"] = "identity"
    if have < f.size:
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            with get_session().stream("GET", url, headers=headers, timeout=TIMEOUT_S, follow_redirects=True) as r:
                hf_raise_for_status(r)
                if have and r.status_code == 200:  # the server ignored the range: start over
                    have, hasher = 0, _hasher(f)
                with _open_part(part, "ab" if have else "wb") as out:
                    for chunk in r.iter_bytes():
                        cancel.check()
                        if have + len(chunk) > f.size:
                            raise _corrupt(f, part, f"more than the {f.size} bytes the Hub listed")
                        _write(out, chunk, part, f, staging)
                        hasher.update(chunk)
                        have += len(chunk)
                        yield have
        except (ModelNotFound, OutputError):
            raise
        except Exception as exc:
            if not _is_network_error(exc) and not type(exc).__name__.endswith("HTTPError"):
                raise
            raise ModelNotFound(f"the download of {f.path} stopped at {_human(have)} of {_human(f.size)} "
                                f"({type(exc).__name__})", path=staging.parent / source.name,
                                hint="rerun `spatialdreamer models get` to resume where it stopped") from exc
    if have != f.size:
        raise ModelNotFound(f"the download of {f.path} ended early ({have} of {f.size} bytes)",
                            hint="rerun `spatialdreamer models get` to resume where it stopped")
    digest = hasher.hexdigest()
    if digest != f.digest:
        raise _corrupt(f, part, f"its {f.algorithm} is {digest[:16]}…, the Hub lists {f.digest[:16]}…")
    os.replace(part, staging / f.path)


def _write(out: BinaryIO, chunk: bytes, part: Path, f: RemoteFile, staging: Path) -> None:
    try:
        out.write(chunk)
    except OSError as exc:
        out.close()
        part.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise OutputError(f"the disk filled up while downloading {f.path}; the partial file was removed and "
                              "the installed model (if any) is untouched", path=staging.parent,
                              hint="free some space and rerun, or choose another folder with --models-dir") from exc
        raise OutputError(f"cannot write {f.path} ({exc.strerror or exc})", path=staging) from exc


def _corrupt(f: RemoteFile, part: Path, why: str) -> ModelNotFound:
    part.unlink(missing_ok=True)
    return ModelNotFound(f"{f.path} arrived corrupted ({why}); the damaged file was removed",
                         hint="rerun `spatialdreamer models get` to download it again")


# ---------------------------------------------------------------------------------------- installing


def _write_manifest(staging: Path, source: HubSource, commit: str, files: list[RemoteFile],
                    hub_licence: str | None) -> None:
    manifest = {"schema": MANIFEST_SCHEMA, "name": source.name, "repo_id": source.repo_id, "revision": commit,
                "pinned": source.revision is not None, "licence": source.licence, "card_licence": hub_licence,
                "licence_accepted_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "files": {f.path: {"size": f.size, f.algorithm: f.digest} for f in files}}
    atomic_write_json(staging / MANIFEST, manifest)
    (staging / STATE).unlink(missing_ok=True)


def _swap_in(staging: Path, target: Path) -> None:
    """Put the complete staging folder at `target`; the previous folder is removed only afterwards."""
    if not target.exists():
        os.replace(staging, target)
        return
    replace_folder(staging, target)
