"""Files we write, safely: temp files beside the target, atomic replace, and never over an input.

- :func:`temp_path_beside` names every partial file ``.<stem>.partial-<host>-<pid>-<random><suffix>``,
  so a later run can tell its own dead runs' leftovers (same host, process gone) from anyone else's
  and remove them (:func:`remove_stale_partials`, done once per folder per process).
- :func:`atomic_write_bytes` / :func:`atomic_write_json`: temp file, fsync, ``os.replace``. A reader (or a
  crash) never sees a half-written file; an existing file is replaced only by a complete new one. The
  new file gets the mode any new file would (0o666 minus the umask), or the replaced file's mode.
- :func:`land_together`: several finished outputs (temp files, staging folders) moved onto their targets
  as one set: every target is checked first and a failure deletes what has not landed (all or none).
- :func:`refuse_inputs_as_outputs`: an output may never be, or resolve to, a file the job reads (the same
  path, ``./x`` vs ``x``, a symlink, a hard link: one device and inode), whatever the flags.
- A target that is a character device or a FIFO (``-o /dev/null``, a named pipe) is a stream, not a file
  to replace: its temp file goes to the system temp folder and the finished bytes are copied into it
  (:func:`place`). Renaming onto it would swap the device node for a regular file — as root, that turns
  the machine's ``/dev/null`` into a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import OutputError, UsageError

_PARTIAL = re.compile(r"^\..*\.partial-(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-[0-9a-f]{8}")
_swept: set[str] = set()


def host_tag() -> str:
    """This machine's name as it appears in partial-file names (letters, digits and '_' only)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:40] or "host"


def partial_name(name: str, suffix: str) -> str:
    """'.<name>.partial-<host>-<pid>-<8 hex><suffix>': hidden, ours, traceable to this process."""
    return f".{name}.partial-{host_tag()}-{os.getpid()}-{secrets.token_hex(4)}{suffix}"


def pid_alive(pid: int) -> bool:
    """True when process `pid` exists on this host (or we may not signal it: then assume alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale_partial(name: str) -> bool:
    """A partial file or folder an earlier run of ours on this host left: our naming, its process dead."""
    match = _PARTIAL.match(name)
    return bool(match) and match["host"] == host_tag() and int(match["pid"]) != os.getpid() \
        and not pid_alive(int(match["pid"]))


def remove_stale_partials(folder: Path) -> list[Path]:
    """Delete the stale partials (files or folders, :func:`is_stale_partial`) in `folder`; never raises.

    Returns:
        the paths removed.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not is_stale_partial(entry.name):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def sweep_once(folder: Path) -> None:
    """:func:`remove_stale_partials` the first time this process writes into `folder`."""
    key = os.path.abspath(folder)
    if key not in _swept:
        _swept.add(key)
        remove_stale_partials(Path(key))


def temp_path_beside(target: Path, suffix: str | None = None) -> Path:
    """Create an empty, hidden, uniquely named file in `target`'s folder and return its path.

    Same filesystem as the target, so the final rename is atomic; created with mode 0o666 minus the
    umask, so the finished file gets the permissions any new file would (mkstemp's 0o600 would hide a
    master from its team). The first call for a folder removes stale partials of our dead runs there.
    """
    target = Path(target)
    folder = Path(tempfile.gettempdir()) if is_stream_target(target) else target.parent
    sweep_once(folder if str(folder) else Path("."))
    for _ in range(16):
        temp = folder / partial_name(target.stem, suffix if suffix is not None else target.suffix)
        try:
            os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return temp
    raise FileExistsError(f"no free temporary name beside {target}")


def is_stream_target(path: str | Path) -> bool:
    """True when `path` exists and is a character device or a FIFO (``/dev/null``, a named pipe)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def place(temp: Path, target: Path) -> None:
    """Put the finished file `temp` at `target`: ``os.replace``, or for a stream target (see
    :func:`is_stream_target`) its bytes copied into the stream and `temp` deleted, so the device node or
    pipe stays what it is. `temp` is gone afterwards either way (on success)."""
    if not is_stream_target(target):
        os.replace(temp, target)
        return
    with open(temp, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    os.unlink(temp)


def write_temp_beside(target: Path, data: bytes) -> Path:
    """Write `data` to a new temp file beside `target` (fsync'd); return its path (removed on failure)."""
    tmp = temp_path_beside(target)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def keep_mode(tmp: Path, target: Path) -> None:
    """Give `tmp` the permission bits of the file it will replace (nothing when `target` is new)."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return
    os.chmod(tmp, mode)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically (temp file + fsync + os.replace), keeping a replaced file's mode."""
    path = Path(path)
    tmp = write_temp_beside(path, data)
    try:
        keep_mode(tmp, path)
        place(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` as UTF-8 to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, payload: Any) -> None:
    """Write `payload` as pretty, UTF-8 JSON to `path` atomically."""
    atomic_write_text(path, json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


# ------------------------------------------------------------------------------- never over an input


def file_identity(path: Path) -> tuple[int, int] | None:
    """(st_dev, st_ino) of the file `path` names, following symlinks; None when it does not exist."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def same_file(a: Path, b: Path) -> bool:
    """True when `a` and `b` are one file: the same real path (symlinks, '.', '..' resolved) or the same
    device and inode (a hard link, another mount of it, a case-insensitive name)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    ia = file_identity(a)
    return ia is not None and ia == file_identity(b)


def is_read_only(path: Path) -> bool:
    """True for an existing file with no write permission bit at all (chmod a-w): protected on purpose.

    By mode bits, not access(2): root may write anything, and a rename replaces even a read-only file.
    """
    try:
        return not stat.S_IMODE(os.stat(path).st_mode) & 0o222
    except OSError:
        return False


def refuse_read_only(path: Path) -> None:
    """OutputError (exit 4) when `path` exists and is read-only (whatever --overwrite says)."""
    if is_read_only(path):
        raise OutputError("exists and is read-only; SpatialDreamer does not replace a protected file",
                          path=path, hint="Make it writable (chmod u+w) or choose another output name")


def is_inside(path: Path, folder: Path) -> bool:
    """True when `path` (resolved) lies inside `folder` (resolved) or is it."""
    real, base = os.path.realpath(path), os.path.realpath(folder)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def refuse_inputs_as_outputs(outputs: Iterable[Path], inputs: Iterable[Path],
                             replaced_folders: Iterable[Path] = ()) -> None:
    """Refuse a job whose output would be, or would replace, one of its inputs.

    Args:
        outputs: every file the job will write (masters, masks, exports, manifests).
        inputs: every file the job reads (source, imported depth files, project media, batch inputs).
        replaced_folders: folders the job replaces as a whole (an earlier export): no input may lie inside.
    Raises:
        UsageError (exit 2), naming the output and the input, whatever --overwrite says.
    """
    inputs = [Path(p) for p in inputs]
    by_path = {os.path.realpath(inp): inp for inp in reversed(inputs)}  # lookups: 100,000-frame sequences
    by_identity = {ident: inp for inp in reversed(inputs) if (ident := file_identity(inp)) is not None}
    for out in outputs:
        inp = by_path.get(os.path.realpath(out))
        if inp is None:
            ident = file_identity(Path(out))
            inp = by_identity.get(ident) if ident is not None else None
        if inp is not None:
            how = "" if os.path.abspath(out) == os.path.abspath(inp) else f" ({_how_same(Path(out), inp)})"
            raise UsageError(f"this output is the input {inp}{how}; SpatialDreamer never writes over "
                             "a file the job reads", path=out, hint="Choose another output name")
    for folder in replaced_folders:
        for inp in inputs:
            if is_inside(inp, Path(folder)):
                raise UsageError(f"replacing this folder would delete the input {inp}", path=folder,
                                 hint="Choose another output folder")


def _how_same(a: Path, b: Path) -> str:
    if os.path.realpath(a) == os.path.realpath(b):
        return "the same file through a symlink or a relative path"
    return "a hard link to it"


# ------------------------------------------------------------------------------- whole folders


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with Linux renameat2(RENAME_EXCHANGE); False where it is unavailable."""
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def replace_folder(new: Path, target: Path) -> None:
    """Put the complete folder `new` at `target` (an existing folder), then delete the old one.

    One atomic exchange where the OS offers it (Linux renameat2), else two renames with the old
    folder restored if the second fails. Both must be on one filesystem (make `new` beside `target`).
    """
    new, target = Path(new), Path(target)
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)
        return
    old = target.with_name(partial_name(target.name, ""))
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------------------------- all land or none


@dataclass(frozen=True)
class Landing:
    """One finished output waiting beside its target: a temp file or a staging folder.

    Attributes:
        staged: the complete temp file or folder (same filesystem as `target`).
        target: where it lands.
        overwrite: False refuses a target that exists by the time the set lands.
    """

    staged: Path
    target: Path
    overwrite: bool = True


def refuse_existing(landing: Landing) -> None:
    """OutputError when `landing.target` exists and overwriting is off."""
    if not landing.overwrite and os.path.lexists(landing.target):
        raise OutputError("already exists", path=landing.target, hint="Pass --overwrite to replace it")


def discard_staged(paths: Iterable[Path]) -> None:
    """Delete temp files and staging folders that did not land; never raises."""
    for path in paths:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)


def land(landing: Landing) -> None:
    """Move one staged output onto its target: a file by os.replace, a folder replacing one as a whole."""
    staged, target = Path(landing.staged), Path(landing.target)
    if staged.is_dir() and target.is_dir() and not target.is_symlink():
        replace_folder(staged, target)
    elif staged.is_dir() and is_stream_target(target):
        raise OutputError("is a device or a pipe, not a folder", path=target, hint="Give an output folder")
    else:
        place(staged, target)


def land_together(landings: Sequence[Landing]) -> None:
    """Move every staged output onto its target: all land or none do.

    Every target is checked before the first move, so a refused set (a target appeared while
    overwrite is off) moves nothing; on any failure, every staged output that has not landed is
    deleted and the error re-raised (OutputError for a refusal, OSError from the filesystem).
    """
    try:
        for landing in landings:
            refuse_existing(landing)
        for landing in landings:
            land(landing)
    except BaseException:
        discard_staged(landing.staged for landing in landings)
        raise
