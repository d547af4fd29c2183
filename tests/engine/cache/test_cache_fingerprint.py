"""engine.cache.fingerprint: content hash, its memo (in-process and shared index), parameter keys."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine.cache import fingerprint
from engine.cache.fingerprint import (
    INDEX_NAME,
    clear_memo,
    depth_params_fingerprint,
    media_fingerprint,
    params_fingerprint,
)
from engine.depth.protocol import DepthConfig
from engine.errors import Cancelled, MediaError
from engine.progress import CancelToken


@pytest.fixture
def count_hashes(monkeypatch):
    """Counts full-content hashes (each one reads the whole file)."""
    calls: list[Path] = []
    real = fingerprint.content_hash

    def counting(path, cancel=None):
        calls.append(Path(path))
        return real(path, cancel)

    monkeypatch.setattr(fingerprint, "content_hash", counting)
    return calls


def write_media(path: Path, size: int = 3 * (1 << 20) + 123, seed: int = 0) -> bytes:
    data = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()
    path.write_bytes(data)
    return data


def test_digest_is_blake2b_256_of_the_content_across_blocks(tmp_path):
    data = write_media(tmp_path / "clip.mov")  # spans several 1 MiB blocks
    expected = hashlib.blake2b(data, digest_size=32).hexdigest()
    assert media_fingerprint(tmp_path / "clip.mov") == expected
    (tmp_path / "copy.mov").write_bytes(data)
    assert media_fingerprint(tmp_path / "copy.mov") == expected  # a copy keeps its cache


def test_memo_avoids_rehashing_in_process_and_across_processes(tmp_path, count_hashes):
    media = tmp_path / "clip.mov"
    write_media(media)
    index_dir = tmp_path / "cache"
    index_dir.mkdir()
    first = media_fingerprint(media, index_dir)
    assert media_fingerprint(media, index_dir) == first
    assert len(count_hashes) == 1
    index = json.loads((index_dir / INDEX_NAME).read_text())
    assert index["schema"] == "CacheMediaIndex.1"
    assert [e["blake2b"] for e in index["entries"].values()] == [first]
    clear_memo()  # as a fresh process would start
    assert media_fingerprint(media, index_dir) == first
    assert len(count_hashes) == 1  # answered by the shared index


@pytest.mark.parametrize("tag", ["CacheMediaIndex.2", "CacheMeta.1", None])
def test_an_index_with_another_schema_tag_is_ignored_and_rewritten(tmp_path, count_hashes, tag):
    media = tmp_path / "clip.mov"
    write_media(media)
    index_dir = tmp_path / "cache"
    index_dir.mkdir()
    first = media_fingerprint(media, index_dir)
    index_path = index_dir / INDEX_NAME
    index = json.loads(index_path.read_text())
    index["schema"] = tag
    index_path.write_text(json.dumps(index))
    clear_memo()
    assert media_fingerprint(media, index_dir) == first
    assert len(count_hashes) == 2  # the stale index answered nothing: hashed again
    assert json.loads(index_path.read_text())["schema"] == "CacheMediaIndex.1"


def test_changed_content_of_the_same_size_is_rehashed_and_the_index_updated(tmp_path, count_hashes):
    media = tmp_path / "clip.mov"
    data = write_media(media)
    index_dir = tmp_path / "cache"
    index_dir.mkdir()
    before = media_fingerprint(media, index_dir)
    changed = bytearray(data)
    changed[1000] ^= 0x55
    media.write_bytes(bytes(changed))
    st = media.stat()
    os.utime(media, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # touch
    assert media.stat().st_size == len(data)
    after = media_fingerprint(media, index_dir)
    assert after != before
    assert after == hashlib.blake2b(bytes(changed), digest_size=32).hexdigest()
    assert len(count_hashes) == 2
    digests = {e["blake2b"] for e in json.loads((index_dir / INDEX_NAME).read_text())["entries"].values()}
    assert after in digests


def test_restoring_the_mtime_after_an_edit_does_not_fool_the_memo(tmp_path):
    media = tmp_path / "clip.mov"
    data = write_media(media, size=4096)
    before = media_fingerprint(media)
    st = media.stat()
    media.write_bytes(data[::-1])  # same size, new content
    os.utime(media, ns=(st.st_atime_ns, st.st_mtime_ns))  # the old mtime put back; ctime still moves
    assert media_fingerprint(media) == hashlib.blake2b(data[::-1], digest_size=32).hexdigest() != before


def test_unreadable_index_is_ignored_and_rewritten(tmp_path, count_hashes):
    media = tmp_path / "clip.mov"
    write_media(media, size=1000)
    (tmp_path / INDEX_NAME).write_text("{not json")
    digest = media_fingerprint(media, tmp_path)
    assert json.loads((tmp_path / INDEX_NAME).read_text())["entries"]
    clear_memo()
    assert media_fingerprint(media, tmp_path) == digest
    assert len(count_hashes) == 1


def test_missing_media_is_a_media_error_naming_the_file(tmp_path):
    with pytest.raises(MediaError) as info:
        media_fingerprint(tmp_path / "gone.mov")
    assert info.value.path == str(tmp_path / "gone.mov")
    assert info.value.exit_code == 3


def test_hashing_can_be_cancelled(tmp_path):
    media = tmp_path / "clip.mov"
    write_media(media)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        media_fingerprint(media, cancel=token)


@dataclasses.dataclass(frozen=True)
class FlowSettings:
    preset: str = "medium"
    scale: Fraction = Fraction(1, 2)
    root: Path = Path("/models")


def test_params_fingerprint_is_stable_and_sensitive():
    a = params_fingerprint({"provider": "weights-free", "width": 480, "sigma": 1.5})
    b = params_fingerprint({"sigma": 1.5, "width": 480, "provider": "weights-free"})
    assert a == b and len(a) == 64
    assert params_fingerprint({"provider": "weights-free", "width": 481, "sigma": 1.5}) != a
    assert params_fingerprint({"provider": "da2-small", "width": 480, "sigma": 1.5}) != a
    assert params_fingerprint({"provider": "weights-free", "width": 480, "sigma": 1.5000001}) != a
    assert params_fingerprint(FlowSettings()) == params_fingerprint(FlowSettings())
    assert params_fingerprint(FlowSettings(scale=Fraction(1, 3))) != params_fingerprint(FlowSettings())
    assert params_fingerprint((1, 2)) == params_fingerprint([1, 2])
    assert params_fingerprint({"lut": np.arange(4)}) != params_fingerprint({"lut": np.arange(1, 5)})
    assert params_fingerprint({"v": np.float32(0.5)}) == params_fingerprint({"v": 0.5})


def test_params_fingerprint_refuses_values_without_a_stable_form():
    with pytest.raises(TypeError, match="cannot fingerprint"):
        params_fingerprint({"callback": object()})


def test_depth_params_ignore_where_weights_live_and_batching_only():
    base = depth_params_fingerprint(DepthConfig(), "weights-free")
    moved = DepthConfig(models_dir=Path("/elsewhere"), batch_size=16)
    assert depth_params_fingerprint(moved, "weights-free") == base
    assert depth_params_fingerprint(DepthConfig(model="weights-free"), "weights-free") == base
    assert depth_params_fingerprint(DepthConfig(working_width=640), "weights-free") != base
    assert depth_params_fingerprint(DepthConfig(precision="fp16"), "weights-free") != base
    assert depth_params_fingerprint(DepthConfig(), "da2-small") != base
    assert depth_params_fingerprint(DepthConfig(), "weights-free", provider_version="2") != base
