"""`models get` against a local Hub on 127.0.0.1 (HF_ENDPOINT): listing, licence, resume, checksums, failures.

The server emulates what huggingface_hub's client asks for: ``GET /api/models/{repo}/revision/{rev}``
(``blobs=true``: siblings with size, blobId and lfs.sha256; the resolved commit in ``sha``;
``cardData.license``) and ``GET /{repo}/resolve/{commit}/{path}`` with ``Range`` requests answered
206 + ``Content-Range``, the Hub's headers (``X-Repo-Commit``, ``ETag``, ``X-Linked-Etag``,
``X-Linked-Size`` for LFS files) and its error codes (``X-Error-Code: GatedRepo`` with 401 for a
gated repository without a token, ``RevisionNotFound`` 404). It serves a tiny model in the layout
of the real repositories.
"""

from __future__ import annotations

import errno
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from engine import models
from engine.errors import ModelNotFound, OutputError, UsageError
from engine.models import hub
from engine.progress import CancelToken

COMMIT = "5426e4f0f36572d16453bbda7a8389317b1bef99"  # da2-small's pinned revision
REPO = "depth-anything/Depth-Anything-V2-Small-hf"


def _safetensors(n_bytes: int) -> bytes:
    """A valid safetensors file with one uint8 tensor of `n_bytes` (what the folder check reads)."""
    header = json.dumps({"w": {"dtype": "U8", "shape": [n_bytes], "data_offsets": [0, n_bytes]}}).encode()
    payload = bytes((i * 7 + 3) % 251 for i in range(n_bytes))
    return len(header).to_bytes(8, "little") + header + payload


def _tiny_model() -> dict[str, tuple[bytes, bool]]:
    """path -> (content, stored in LFS)."""
    return {
        "config.json": (json.dumps({"model_type": "depth_anything"}).encode(), False),
        "preprocessor_config.json": (b'{"size": {"height": 518, "width": 518}}', False),
        "README.md": (b"---\nlicense: apache-2.0\n---\n# tiny\n", False),
        "model.safetensors": (_safetensors(300_000), True),
        "extra/unused.bin": (b"not asked for", False),
    }


def _git_sha1(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


class FakeHub:
    """A local Hub for one repository; knobs to misbehave, and a log of what the client asked."""

    def __init__(self) -> None:
        self.files = _tiny_model()
        self.gated = False
        self.corrupt: set[str] = set()
        self.cut_after: dict[str, int] = {}  # path -> drop the connection after this many bytes (once)
        self.requests: list[tuple[str, str, str | None, str | None]] = []  # method, path, Range, Authorization
        self.stall = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                outer.handle(self, body=True)

            def do_HEAD(self) -> None:
                outer.handle(self, body=False)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                pass  # a client that hangs up mid-file (the resume test) is expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def handle(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        path = unquote(urlparse(h.path).path)
        self.requests.append((h.command, path, h.headers.get("Range"), h.headers.get("Authorization")))
        if self.gated and h.headers.get("Authorization") != "Bearer hf_good":
            return self._send(h, 401, b'{"error": "gated"}', {"X-Error-Code": "GatedRepo",
                                                              "X-Error-Message": "Access to this repo is gated"})
        api = f"/api/models/{REPO}/revision/"
        if path.startswith(api):
            rev = path[len(api):]
            if rev not in (COMMIT, "main"):
                return self._send(h, 404, b"{}", {"X-Error-Code": "RevisionNotFound"})
            return self._send(h, 200, json.dumps(self.listing()).encode(), {"Content-Type": "application/json"})
        prefix = f"/{REPO}/resolve/{COMMIT}/"
        if not path.startswith(prefix) or path[len(prefix):] not in self.files:
            return self._send(h, 404, b"{}", {"X-Error-Code": "EntryNotFound"})
        name = path[len(prefix):]
        data, lfs = self.files[name]
        if name in self.corrupt:
            data = data[:-10] + b"X" * 10
        headers = {"X-Repo-Commit": COMMIT, "Accept-Ranges": "bytes", "ETag": f'"{_git_sha1(data)}"'}
        if lfs:
            headers |= {"X-Linked-Etag": f'"{hashlib.sha256(self.files[name][0]).hexdigest()}"',
                        "X-Linked-Size": str(len(data))}
        start, status = 0, 200
        rng = h.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start, status = int(rng[6:].split("-")[0]), 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        chunk = data[start:]
        cut = self.cut_after.pop(name, None)
        if cut is not None and body:
            headers["Content-Length"] = str(len(chunk))
            self._head(h, status, headers)
            h.wfile.write(chunk[:cut])
            h.wfile.flush()
            self.stall.wait(2)  # then the connection drops mid-file
            h.close_connection = True
            return
        self._send(h, status, chunk if body else b"", headers, length=len(chunk))

    def listing(self) -> dict:
        siblings = []
        for name, (data, lfs) in self.files.items():
            entry = {"rfilename": name, "size": len(data), "blobId": _git_sha1(data)}
            if lfs:
                entry["lfs"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "pointerSize": 134}
            siblings.append(entry)
        return {"id": REPO, "modelId": REPO, "sha": COMMIT, "private": False, "gated": "auto" if self.gated else False,
                "cardData": {"license": "apache-2.0"}, "siblings": siblings, "tags": []}

    @staticmethod
    def _head(h, status: int, headers: dict) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()

    def _send(self, h, status: int, data: bytes, headers: dict, length: int | None = None) -> None:
        headers = dict(headers)
        headers.setdefault("Content-Length", str(len(data) if length is None else length))
        self._head(h, status, headers)
        if data:
            h.wfile.write(data)


@pytest.fixture
def fake_hub(monkeypatch):
    hub_server = FakeHub()
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(Path(monkeypatch_tmp(monkeypatch)) / "hf"))
    yield hub_server
    hub_server.stall.set()
    hub_server.close()


def monkeypatch_tmp(monkeypatch) -> str:
    import tempfile

    path = tempfile.mkdtemp(prefix="hfhome-")
    return path


def _drain(gen):
    return list(gen)


def test_downloads_verifies_and_installs_a_complete_model(fake_hub, tmp_path):
    events = _drain(hub.download_model("da2-small", tmp_path, accept_licence=True))
    folder = tmp_path / "da2-small"
    for name in ("config.json", "preprocessor_config.json", "model.safetensors", "README.md"):
        assert (folder / name).read_bytes() == fake_hub.files[name][0]
    assert not (folder / "extra").exists()  # only the files the table asks for
    assert models.check_model("da2-small", tmp_path).state == "ok"
    manifest = json.loads((folder / hub.MANIFEST).read_text())
    assert manifest["schema"] == "ModelDownload.1" and manifest["revision"] == COMMIT
    assert manifest["files"]["model.safetensors"]["sha256"] == hashlib.sha256(
        fake_hub.files["model.safetensors"][0]).hexdigest()
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no staging left behind
    stages = [e.stage for e in events]
    assert stages[0] == "listing" and stages[-1] == "install" and "download" in stages
    downloads = [e for e in events if e.stage == "download"]
    wanted = sum(len(fake_hub.files[n][0]) for n in ("config.json", "preprocessor_config.json", "model.safetensors",
                                                     "README.md"))
    assert downloads[-1].done == downloads[-1].total == (wanted + 1023) // 1024  # KiB
    asked = [p for m, p, *_ in fake_hub.requests if m == "GET" and "/resolve/" in p]
    assert all(f"/resolve/{COMMIT}/" in p for p in asked)  # the pinned commit, never "main"


def test_licence_must_be_accepted(fake_hub, tmp_path):
    shown = []
    with pytest.raises(UsageError, match="licence"):
        _drain(hub.download_model("da2-small", tmp_path, confirm=lambda text: shown.append(text) or False))
    assert "apache-2.0" in shown[0] and REPO in shown[0]
    assert not (tmp_path / "da2-small").exists()
    _drain(hub.download_model("da2-small", tmp_path, confirm=lambda text: True))
    assert (tmp_path / "da2-small" / "model.safetensors").is_file()


def test_interrupted_download_resumes_with_a_range_request(fake_hub, tmp_path):
    fake_hub.cut_after["model.safetensors"] = 120_000
    token = CancelToken()
    gen = hub.download_model("da2-small", tmp_path, accept_licence=True, cancel=token)
    with pytest.raises(Exception):  # noqa: B017  (cancelled mid-file, or the stalled read times out)
        for event in gen:
            if event.stage == "download" and event.message == "model.safetensors" and event.done > 0:
                token.cancel()
    fake_hub.stall.set()
    part = tmp_path / ".da2-small.download" / "model.safetensors.part"
    assert part.is_file() and 0 < part.stat().st_size <= 120_000
    kept = part.stat().st_size
    fake_hub.stall.clear()
    _drain(hub.download_model("da2-small", tmp_path, accept_licence=True))
    ranges = [r for m, p, r, _ in fake_hub.requests if p.endswith("model.safetensors") and m == "GET"]
    assert ranges[-1] == f"bytes={kept}-"
    assert (tmp_path / "da2-small" / "model.safetensors").read_bytes() == fake_hub.files["model.safetensors"][0]


def test_corrupted_file_is_rejected_and_removed(fake_hub, tmp_path):
    fake_hub.corrupt.add("model.safetensors")
    with pytest.raises(ModelNotFound, match="corrupted"):
        _drain(hub.download_model("da2-small", tmp_path, accept_licence=True))
    staging = tmp_path / ".da2-small.download"
    assert not (staging / "model.safetensors").exists() and not (staging / "model.safetensors.part").exists()
    assert not (tmp_path / "da2-small").exists()
    fake_hub.corrupt.clear()  # the next run fetches it again; the files verified before are kept
    before = len(fake_hub.requests)
    _drain(hub.download_model("da2-small", tmp_path, accept_licence=True))
    fetched = [p.rsplit("/", 1)[1] for m, p, *_ in fake_hub.requests[before:] if m == "GET" and "/resolve/" in p]
    assert fetched == ["model.safetensors", "README.md"]  # config.json and preprocessor_config.json were kept
    assert models.check_model("da2-small", tmp_path).state == "ok"


def test_no_network_is_a_clear_error_within_seconds(monkeypatch, tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    started = time.monotonic()
    with pytest.raises(ModelNotFound, match="cannot reach the Hugging Face Hub") as info:
        _drain(hub.download_model("da2-small", tmp_path, accept_licence=True))
    assert time.monotonic() - started < 10
    assert "hf download" in info.value.one_line() and "offline" in info.value.one_line()


def test_full_disk_mid_download_removes_the_partial_file_and_keeps_the_old_model(fake_hub, tmp_path, monkeypatch):
    old = tmp_path / "da2-small"
    old.mkdir()
    (old / "config.json").write_text('{"model_type": "depth_anything"}')
    (old / "model.safetensors").write_bytes(_safetensors(10))
    real_open = hub._open_part

    class FullDisk:
        def __init__(self, handle):
            self.handle, self.written = handle, 0

        def write(self, data):
            if self.written + len(data) > 50_000:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.written += len(data)
            return self.handle.write(data)

        def close(self):
            self.handle.close()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    monkeypatch.setattr(hub, "_open_part", lambda path, mode: FullDisk(real_open(path, mode)))
    with pytest.raises(OutputError, match="disk filled up"):
        _drain(hub.download_model("da2-small", tmp_path, accept_licence=True))
    assert not list((tmp_path / ".da2-small.download").rglob("*.part"))
    assert (old / "model.safetensors").read_bytes() == _safetensors(10)  # untouched
    assert sorted(p.name for p in old.iterdir()) == ["config.json", "model.safetensors"]


def test_existing_model_is_swapped_for_the_new_one(fake_hub, tmp_path):
    old = tmp_path / "da2-small"
    old.mkdir()
    (old / "stale.txt").write_text("old")
    _drain(hub.download_model("da2-small", tmp_path, accept_licence=True))
    assert not (old / "stale.txt").exists() and (old / hub.MANIFEST).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["da2-small"]


def test_gated_repository_needs_the_users_token(fake_hub, tmp_path):
    fake_hub.gated = True
    with pytest.raises(ModelNotFound, match="gated") as info:
        _drain(hub.download_model("da2-small", tmp_path, accept_licence=True, token=False))
    assert "hf auth login" in info.value.one_line()
    _drain(hub.download_model("da2-small", tmp_path, accept_licence=True, token="hf_good"))
    auths = {a for m, p, _, a in fake_hub.requests if "/resolve/" in p}
    assert auths == {"Bearer hf_good"}


def test_unknown_name_lists_the_valid_ones(tmp_path):
    with pytest.raises(UsageError) as info:
        _drain(hub.download_model("da3-huge", tmp_path, accept_licence=True))
    text = info.value.one_line()
    assert all(name in text for name in ("da2-small", "da2-base", "da2-large", "marigold", "svd-xt", "sd21"))


def test_unwritable_models_folder_fails_before_any_download(fake_hub, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="not writable"):
        _drain(hub.download_model("da2-small", blocker / "models", accept_licence=True))
    assert fake_hub.requests == []


def test_every_table_entry_is_pinned_or_says_it_is_not():
    for name, source in hub.HUB_SOURCES.items():
        assert source.name == name and "/" in source.repo_id and source.files and source.licence
        assert source.revision is None or (len(source.revision) == 40 and int(source.revision, 16) >= 0)


def test_cli_models_get_downloads_and_lists(fake_hub, tmp_path, capsys):
    from engine.cli import main

    assert main(["models", "get", "da2-small", "--accept-licence", "--models-dir", str(tmp_path),
                 "--progress", "none"]) == 0
    assert "installed da2-small" in capsys.readouterr().out
    assert main(["models", "list", "--models-dir", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert any(line.startswith("da2-small") and " ok " in line for line in listing.splitlines())


def test_cli_models_get_errors_are_one_line_with_exit_codes(fake_hub, tmp_path, capsys, monkeypatch):
    from engine.cli import main

    assert main(["models", "get", "nope", "--models-dir", str(tmp_path)]) == 2
    assert "da2-small" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", open("/dev/null"))  # not a terminal: no question can be asked  # noqa: SIM115
    assert main(["models", "get", "da2-small", "--models-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--accept-licence" in err and "Traceback" not in err
