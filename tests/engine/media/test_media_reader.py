"""MediaReader: sequential and frame-accurate random access, cache, VFR times, rotation, colour, stills."""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import MediaError
from engine.media import FrameIndexError, MediaReader, open_media, read_still
from tests.support.clips import frame_code
from tests.support.data import SHARED_DATA as DATA


@pytest.mark.parametrize("clip", ["clip_mp4", "clip_mkv", "clip_ts"])
def test_sequential_frames_in_presentation_order(clip: str, request: pytest.FixtureRequest) -> None:
    with open_media(request.getfixturevalue(clip)) as reader:
        frames = list(reader.frames())
    assert [f.index for f in frames] == list(range(24))
    assert [frame_code(f.image) for f in frames] == list(range(24))
    # Matroska stores milliseconds: times are exact in its 1/1000 grid, within 1 ms of i/24.
    assert all(abs(f.time - Fraction(i, 24)) <= Fraction(1, 1000) for i, f in enumerate(frames))
    assert all(f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8 for f in frames)


@pytest.mark.parametrize("clip", ["clip_mp4", "clip_mkv", "clip_ts"])
def test_random_access_is_frame_accurate(clip: str, request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(clip)
    with open_media(path) as reader:
        sequential = [f.image for f in reader.frames()]
    order = list(range(24)) * 2
    random.Random(7).shuffle(order)
    with open_media(path, cache_size=4) as reader:
        for index in order:
            frame = reader.frame(index)
            assert frame.index == index and abs(frame.time - Fraction(index, 24)) <= Fraction(1, 1000)
            np.testing.assert_array_equal(frame.image, sequential[index])


def test_frames_range_is_half_open(clip_mp4: Path) -> None:
    with open_media(clip_mp4) as reader:
        assert len(reader) == 24
        assert [frame_code(f.image) for f in reader.frames(5, 9)] == [5, 6, 7, 8]
        assert [f.index for f in reader.frames(22)] == [22, 23]
        assert list(reader.frames(24)) == []


def test_cached_frames_are_private_copies(clip_mp4: Path) -> None:
    with MediaReader(clip_mp4, cache_size=2) as reader:
        first = reader.frame(3)
        first.image[:] = 0  # the caller owns its array
        again = reader.frame(3)
        assert frame_code(again.image) == 3
        for index in (4, 5, 6):  # evicts 3 from a 2-entry cache
            reader.frame(index)
        np.testing.assert_array_equal(reader.frame(3).image, again.image)


def test_out_of_range_is_an_index_error_and_a_media_error(clip_mp4: Path) -> None:
    with open_media(clip_mp4) as reader:
        for bad in (24, -1):
            with pytest.raises(FrameIndexError) as caught:
                reader.frame(bad)
            assert isinstance(caught.value, IndexError) and isinstance(caught.value, MediaError)
            assert str(clip_mp4) in str(caught.value)


def test_index_at_time_snaps_to_first_frame_at_or_after(clip_mp4: Path) -> None:
    with open_media(clip_mp4) as reader:
        assert reader.index_at_time(0) == 0
        assert reader.index_at_time(0.5) == 12
        assert reader.index_at_time(Fraction(1, 48)) == 1
        assert reader.index_at_time(Fraction(1, 24)) == 1
        assert reader.index_at_time(-3) == 0
        assert reader.index_at_time(5.0) == 24


def test_vfr_times_are_kept(make_clip) -> None:
    pts = [0, 40, 80, 160, 200, 280, 300, 340, 420, 460]
    path = make_clip("vfr.mkv", frames=len(pts), pts=pts, time_base=Fraction(1, 1000))
    with open_media(path) as reader:
        frames = list(reader.frames())
        assert [f.time for f in frames] == [Fraction(p, 1000) for p in pts]
        assert [frame_code(f.image) for f in frames] == list(range(len(pts)))
        assert reader.index_at_time(0.1) == 3  # first frame at or after 100 ms is at 160 ms
        assert reader.index_at_time(0.04) == 1
        assert reader.frame(5).time == Fraction(280, 1000)


def _corner_image(index: int) -> np.ndarray:
    image = np.full((48, 64, 3), 30, np.uint8)
    image[:16, :16] = 230  # bright top-left corner of the coded picture
    return image


@pytest.mark.parametrize(
    ("ccw", "bright_corner"), [(90, "bottom_left"), (-90, "top_right"), (180, "bottom_right")]
)
def test_rotation_is_applied(make_clip, ccw: int, bright_corner: str) -> None:
    path = make_clip(f"phone{ccw}.mp4", frames=3, rotation=ccw, image_fn=_corner_image)
    with open_media(path) as reader:
        image = reader.frame(1).image
    assert image.shape == ((64, 48, 3) if ccw in (90, -90) else (48, 64, 3))
    h, w = image.shape[:2]
    corners = {
        "top_left": image[:8, :8],
        "top_right": image[:8, w - 8 :],
        "bottom_left": image[h - 8 :, :8],
        "bottom_right": image[h - 8 :, w - 8 :],
    }
    assert {name for name, patch in corners.items() if patch.mean() > 128} == {bright_corner}


def test_ten_bit_source_yields_full_scale_uint16(make_clip) -> None:
    path = make_clip(
        "ten.mkv",
        frames=3,
        codec="libx265",
        pix_fmt="yuv420p10le",
        colour=(9, 16, 9, 1),
        options={"x265-params": "log-level=error:lossless=1"},
    )
    with open_media(path) as reader:
        frame = reader.frame(2)
    assert frame.image.dtype == np.uint16
    assert frame_code(frame.image) == 2
    assert abs(frame.image[10, 10].astype(float) / 257 - (20 + 8 * 2)).max() < 1.5


@pytest.mark.parametrize(
    "colour", [(6, 6, 6, 1), (1, 1, 1, 1), (1, 1, 1, 2)], ids=["bt601-tv", "bt709-tv", "bt709-pc"]
)
def test_decode_uses_the_source_matrix_and_range(make_clip, colour: tuple[int, int, int, int]) -> None:
    rgb = np.array([200, 60, 30], np.uint8)
    path = make_clip("flat.mkv", frames=2, colour=colour, image_fn=lambda i: np.tile(rgb, (48, 64, 1)))
    with open_media(path) as reader:
        got = reader.frame(0).image[8:-8, 8:-8].reshape(-1, 3).mean(axis=0)
    assert np.abs(got - rgb).max() < 3.0


def test_still_is_a_one_frame_video(tmp_path: Path) -> None:
    path = tmp_path / "still.png"
    image = np.zeros((20, 30, 3), np.uint8)
    image[..., 0] = 255
    cv2.imwrite(str(path), image[..., ::-1])
    with open_media(path) as reader:
        assert len(reader) == 1 and reader.info.is_still and reader.info.video.fps == 1
        frame = reader.frame(0)
        np.testing.assert_array_equal(frame.image, read_still(path))
        assert frame.time == 0 and reader.index_at_time(0) == 0 and reader.index_at_time(0.5) == 1
        assert [f.index for f in reader.frames()] == [0]
        with pytest.raises(FrameIndexError):
            reader.frame(1)


@pytest.mark.skipif(
    not (DATA / "stereo_video").is_dir(), reason="shared test data not present (../shared/data)"
)
def test_real_euroc_random_access_matches_sequential() -> None:
    path = DATA / "stereo_video" / "euroc_v1_01" / "euroc_V1_01_cam0_left_95f_20fps.mp4"
    with open_media(path) as reader:
        sequential = {f.index: f.image for f in reader.frames(40, 60)}
        for index in (57, 41, 50):
            np.testing.assert_array_equal(reader.frame(index).image, sequential[index])
        assert reader.frame(94).time == Fraction(94, 20)


def test_reader_can_be_shared_between_threads(clip_mp4: Path) -> None:
    import threading

    with open_media(clip_mp4, cache_size=0) as reader:
        codes: list[int] = []
        singles: list[tuple[int, int]] = []

        def sequential() -> None:
            codes.extend(frame_code(f.image) for f in reader.frames())

        def random_access() -> None:
            for index in (20, 3, 11, 17, 0, 23):
                singles.append((index, frame_code(reader.frame(index).image)))

        threads = [threading.Thread(target=sequential), threading.Thread(target=random_access)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert codes == list(range(24))
    assert all(index == code for index, code in singles) and len(singles) == 6


def test_a_seek_keeps_the_gop_it_decoded_so_stepping_back_in_it_never_seeks_again(clip_mp4: Path) -> None:
    """Scrub latency: the frames a seek decodes from its keyframe are kept; frames of that GOP are then
    converted from the kept ones (no seek, no decode), still frame-accurate."""
    with open_media(clip_mp4) as reader:
        sequential = [f.image for f in reader.frames()]
    with MediaReader(clip_mp4, cache_size=0) as reader:  # no RGB cache: only the kept GOP can answer
        reader.keep_gop()
        source = reader._source
        keys = sorted({source.table.keyframe_index_at_or_before(i) for i in range(24)})
        start, end = next((a, b) for a, b in zip(keys, [*keys[1:], 24], strict=True) if b - a >= 4 and a > 0)
        seeks: list[int] = []
        restart = source._restart
        source._restart = lambda key, fresh=False: (seeks.append(key), restart(key, fresh))[1]
        last = end - 1
        np.testing.assert_array_equal(reader.frame(last).image, sequential[last])  # one seek, one GOP run
        assert seeks == [start]
        for index in [*range(last - 1, start - 1, -1), start + 1]:  # stepping / dragging back through it
            np.testing.assert_array_equal(reader.frame(index).image, sequential[index])
        assert seeks == [start]
        np.testing.assert_array_equal(reader.frame(start - 1).image, sequential[start - 1])  # another GOP
        assert len(seeks) == 2
    with MediaReader(clip_mp4, cache_size=0) as reader:  # off (sequential readers): nothing is kept
        reader.frame(23)
        assert not reader._source._kept
