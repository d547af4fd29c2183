"""Host side of the real-runtime test: provision the Monado chroot, run Xvfb, monado-service and the client.

Every process is started in a session of its own (so its whole tree is ended by its group id) and is
ended by `close()`. Waits are for conditions (a socket appearing, a JSON report arriving), never sleeps.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "tools" / "xr" / "monado_chroot.sh"
SERVICE_ENV = {"XRT_COMPOSITOR_NULL": "1", "SIMULATED_ENABLE": "1"}
PROVISION_TIMEOUT_S = 1500


def chroot_path() -> Path:
    return Path(subprocess.run([str(SCRIPT), "path"], check=True, capture_output=True, text=True).stdout.strip())


def provision() -> float:
    """Build the chroot when missing (idempotent, serialised by a lock file); returns seconds taken."""
    root = chroot_path()
    root.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with open(root.parent / ".monado-trixie.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run([str(SCRIPT), "provision"], capture_output=True, text=True, timeout=PROVISION_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"provisioning the Monado chroot failed:\n{done.stdout}\n{done.stderr}")
    return time.monotonic() - t0


class Proc:
    """A process in the chroot with its output read line by line on a thread."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], display: str, stdin=subprocess.PIPE):
        self.name = name
        extra = " ".join(f"{k}={v}" for k, v in env.items())
        self.popen = subprocess.Popen([str(SCRIPT), "exec", *argv], stdin=stdin, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True, bufsize=1, start_new_session=True,
                                      env={**os.environ, "SDXR_ENV": extra, "SDXR_DISPLAY": display})
        self.lines: list[str] = []
        self.events: queue.Queue[dict] = queue.Queue()
        self.seen: list[dict] = []
        self._reader = threading.Thread(target=self._read, name=f"read-{name}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    self.events.put(json.loads(line))

    def send(self, command: str) -> None:
        self.popen.stdin.write(command + "\n")
        self.popen.stdin.flush()

    def wait_event(self, pred: Callable[[dict], bool], timeout: float, what: str) -> dict:
        """The first report (from now on, or already queued) matching `pred`; fails after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self.popen.poll() is not None and self.events.empty():
                tail = "\n".join(self.lines[-40:])
                raise AssertionError(f"{self.name}: no {what} within {timeout} s (rc={self.popen.poll()}):\n{tail}")
            try:
                event = self.events.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            self.seen.append(event)
            if pred(event):
                return event

    def wait_line(self, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(needle in line for line in self.lines):
            if time.monotonic() > deadline or self.popen.poll() is not None:
                raise AssertionError(f"{self.name}: {needle!r} not seen (rc={self.popen.poll()}):\n"
                                     + "\n".join(self.lines[-40:]))
            time.sleep(0.02)  # polling a growing log; no event to wait on

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 10.0) -> int | None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
        try:
            return self.popen.wait(timeout)
        finally:
            if self.popen.stdin:
                with contextlib.suppress(OSError):
                    self.popen.stdin.close()


class MonadoRuntime:
    """Xvfb + monado-service (null compositor, simulated HMD) in the chroot, with a private runtime dir."""

    def __init__(self) -> None:
        self.root = chroot_path()
        self.run_name = f"sdxr-{os.getpid()}"
        self.runtime_dir = self.root / "run" / self.run_name
        self.scratch = Path(tempfile.mkdtemp(prefix="sdxr-", dir=self.root / "tmp"))
        self.display = self._free_display()
        self.env = {"XDG_RUNTIME_DIR": f"/run/{self.run_name}"}
        self.xvfb: Proc | None = None
        self.service: Proc | None = None
        self.clients: list[Proc] = []

    def chroot_view(self, path: Path) -> str:
        """`path` (under the chroot) as the chroot's processes see it."""
        return "/" + str(path.relative_to(self.root))

    def host_view(self, chroot_path: str) -> Path:
        """A path the chroot's processes reported, as seen from the host."""
        return self.root / chroot_path.lstrip("/")

    def _free_display(self) -> str:
        for n in range(90 + os.getpid() % 50, 200):
            if not (self.root / "tmp" / ".X11-unix" / f"X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
                return f":{n}"
        raise RuntimeError("no free X display number for the headset test")

    def start(self) -> None:
        if self.runtime_dir.exists():
            shutil.rmtree(self.runtime_dir)
        self.runtime_dir.mkdir(mode=0o700, parents=True)
        self.xvfb = Proc("Xvfb", ["Xvfb", self.display, "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                         self.env, self.display, stdin=subprocess.DEVNULL)
        socket = self.root / "tmp" / ".X11-unix" / f"X{self.display[1:]}"
        _wait(lambda: socket.exists() or self.xvfb.popen.poll() is not None, 30, "Xvfb socket")
        assert self.xvfb.popen.poll() is None, "Xvfb exited:\n" + "\n".join(self.xvfb.lines)
        self.start_service()

    def start_service(self) -> None:
        # monado-service wants stdin as a pipe (it quits on EOF); as root it is started directly.
        self.service = Proc("monado-service", ["monado-service"], {**self.env, **SERVICE_ENV}, self.display)
        self.service.wait_line("The Monado service has started", 60)

    def kill_service(self) -> None:
        """The runtime dies as in a crash (SIGKILL); its stale socket is what a crash leaves."""
        if self.service is not None:
            self.service.kill(signal.SIGKILL)

    def client(self, content: Path, out: Path, *extra: str) -> Proc:
        proc = Proc("client", ["/opt/sdxr-venv/bin/python", "/src/tests/xr/support/client.py",
                               "--content", self.chroot_view(content), "--out", self.chroot_view(out), *extra],
                    self.env, self.display)
        self.clients.append(proc)
        return proc

    def close(self) -> None:
        for proc in [*self.clients, self.service, self.xvfb]:
            if proc is not None:
                proc.kill(signal.SIGKILL)
        shutil.rmtree(self.runtime_dir, ignore_errors=True)
        shutil.rmtree(self.scratch, ignore_errors=True)


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)  # polling the file system; there is no event to wait on
