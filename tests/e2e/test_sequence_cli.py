"""convert with image sequences in and out: numbering, bit depth, pair eyes, refusals."""

from __future__ import annotations

import av
import cv2
import numpy as np

from engine.media import probe
from engine.media.exr import read_exr, write_exr
from engine.media.sequence import read_frame
from tests.support.clips import write_clip


def plate(h: int = 24, w: int = 32, n: int = 0) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([(x * 2000 + n * 300) % 65536, y * 2700, 20000 + 0 * x], -1).astype(np.uint16)


def write_png_sequence(folder, first: int, count: int, name: str = "plate.{:04d}.png") -> None:
    folder.mkdir(exist_ok=True)
    for n in range(first, first + count):
        assert cv2.imwrite(str(folder / name.format(n)), plate(n=n)[..., ::-1])


def test_png16_sequence_to_exr_pair_keeps_numbers_and_depth(cli, tmp_path):
    write_png_sequence(tmp_path / "in", 1001, 3)
    out = tmp_path / "out"
    out.mkdir()
    result = cli("convert", tmp_path / "in/plate.####.png", "--fps", "24", "-o", out / "eyes.%06d.exr",
                 "--layout", "pair", "--no-cache", "--progress", "none")
    assert result.code == 0, result.err
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"eyes_{e}.{n:06d}.exr" for e in "LR" for n in (1001, 1002, 1003)]
    channels = read_exr(out / "eyes_L.001002.exr")
    assert set(channels) == {"R", "G", "B"} and channels["R"].dtype == np.float16
    assert channels["R"].shape == (24, 32)


def test_exr_sequence_to_png16_and_video_with_start_timecode(cli, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(86400, 86403):  # 01:00:00:00 at 24 fps
        linear = (plate(n=n).astype(np.float32) / 65535) ** 2.2
        write_exr(folder / f"sh.{n}.exr", {c: linear[..., k].astype(np.float32) for k, c in enumerate("RGB")})
    seq = cli("convert", folder / "sh.%d.exr", "--fps", "24", "-o", tmp_path / "o.%d.png", "--no-cache",
              "--progress", "none")
    assert seq.code == 0, seq.err
    image, bits = read_frame(tmp_path / "o.86402.png")
    assert bits == 16 and image.shape == (24, 64, 3)  # sbs-full: two 32-px eyes
    video = cli("convert", folder, "--fps", "25", "-o", tmp_path / "v.mkv", "--codec", "ffv1", "--no-cache",
                "--progress", "none")  # a folder of one numbered run is read as a sequence
    assert video.code == 0, video.err
    info = probe(tmp_path / "v.mkv").video
    assert info.frame_count == 3 and info.fps == 25 and info.start_timecode == "00:57:36:00"


def test_video_to_dpx_sequence_numbers_from_its_frame_index(cli, tmp_path):
    source = write_clip(tmp_path / "s.mp4", frames=3)
    result = cli("convert", source, "-o", tmp_path / "d.%04d.dpx", "--start", "1f", "--no-cache",
                 "--progress", "none")
    assert result.code == 0, result.err
    assert sorted(p.name for p in tmp_path.glob("d.*.dpx")) == ["d.0001.dpx", "d.0002.dpx"]
    assert read_frame(tmp_path / "d.0001.dpx")[1] == 8


def test_sequence_errors_are_one_line(cli, tmp_path):
    write_png_sequence(tmp_path / "in", 1, 3)
    pattern = tmp_path / "in/plate.%04d.png"
    no_fps = cli("convert", pattern, "-o", tmp_path / "x.mp4", "--progress", "none")
    assert no_fps.code == 2 and "--fps" in no_fps.err and "Traceback" not in no_fps.err
    nothing = cli("convert", tmp_path / "in/other.%04d.png", "--fps", "24", "-o", tmp_path / "x.mp4")
    assert nothing.code == 3 and "matches no file" in nothing.err
    over = cli("convert", pattern, "--fps", "24", "-o", pattern, "--overwrite", "--progress", "none")
    assert over.code == 2 and "never writes over a file the job reads" in over.err
    (tmp_path / "in/plate.0002.png").unlink()
    gap = cli("convert", pattern, "--fps", "24", "-o", tmp_path / "x.mp4", "--progress", "none")
    assert gap.code == 3 and "missing from the sequence: 2" in gap.err and "--fill-gaps hold" in gap.err
    held = cli("convert", pattern, "--fps", "24", "--fill-gaps", "hold", "-o", tmp_path / "h.%04d.png",
               "--no-cache", "--progress", "none")
    assert held.code == 0, held.err
    assert sorted(p.name for p in tmp_path.glob("h.*.png")) == ["h.0001.png", "h.0002.png", "h.0003.png"]
    assert not list(tmp_path.glob("x.*"))


def test_audio_file_gives_a_sequence_its_soundtrack_cut_to_the_picture(cli, tmp_path):
    write_png_sequence(tmp_path / "in", 1001, 12)
    sound = write_clip(tmp_path / "sound.mkv", frames=24, audio=[("pcm_s16le", 48000, 2)], audio_seconds=2.0)
    result = cli("convert", tmp_path / "in/plate.%04d.png", "--fps", "24", "--audio", sound, "-o",
                 tmp_path / "out.mkv", "--codec", "ffv1", "--no-cache", "--progress", "none")
    assert result.code == 0, result.err
    info = probe(tmp_path / "out.mkv")
    assert info.video.frame_count == 12 and len(info.audio) == 1 and info.audio[0].channels == 2
    assert abs(info.audio[0].duration_s - 0.5) < 0.05  # 12 frames at 24 fps, not the file's 2 s
    own = cli("convert", sound, "--audio", sound, "-o", tmp_path / "x.mkv", "--progress", "none")
    assert own.code == 2 and "has its own" in own.err
    over = cli("convert", tmp_path / "in/plate.%04d.png", "--fps", "24", "--audio", sound, "-o", sound,
               "--overwrite", "--progress", "none")
    assert over.code == 2 and "never writes over" in over.err


def test_depth_export_of_a_plate_uses_its_numbers_and_re_imports(cli, tmp_path):
    write_png_sequence(tmp_path / "in", 1001, 3)
    pattern = tmp_path / "in/plate.%04d.png"
    first = cli("convert", pattern, "--fps", "24", "-o", tmp_path / "a.mkv", "--codec", "ffv1", "--export-depth",
                tmp_path / "depth", "--no-cache", "--progress", "none")
    assert first.code == 0, first.err
    names = sorted(p.name for p in (tmp_path / "depth").glob("*.png"))
    assert names == ["plate.depth.001001.png", "plate.depth.001002.png", "plate.depth.001003.png"]
    again = cli("convert", pattern, "--fps", "24", "-o", tmp_path / "b.mkv", "--codec", "ffv1", "--depth",
                tmp_path / "depth/plate.depth.%06d.png", "--depth-kind", "inverse", "--no-cache", "--progress", "none")
    assert again.code == 0, again.err
    def frames(path):
        with av.open(str(path)) as container:
            return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]

    # png16 holds nearness to 1/65535, so the re-imported master is within one code value
    # (tests/e2e/test_depth_roundtrip.py; exr and npy give it back bit-exact), and almost all of it equal
    a, b = (np.stack(frames(tmp_path / name)).astype(np.int16) for name in ("a.mkv", "b.mkv"))
    assert a.shape == b.shape == (3, 24, 64, 3)
    assert np.abs(a - b).max() <= 1 and np.count_nonzero(a != b) <= 0.01 * a.size


def test_probe_and_frame_take_a_sequence(cli, tmp_path):
    write_png_sequence(tmp_path / "in", 1001, 3)
    pattern = tmp_path / "in/plate.####.png"
    described = cli("probe", pattern, "--fps", "24")
    assert described.code == 0 and "frame numbers: 1001-1003" in described.out and "3 frames" in described.out
    assert cli("probe", pattern).code == 2
    still = cli("frame", pattern, "--fps", "24", "--at", "1f", "-o", tmp_path / "look.png", "--no-cache")
    assert still.code == 0, still.err
    assert read_frame(tmp_path / "look.png")[0].shape == (24, 64, 3)


def test_qc_takes_a_sequence_as_convert_does(cli, tmp_path):
    import json

    write_png_sequence(tmp_path / "in", 1001, 4)
    for pattern in (tmp_path / "in/plate.%04d.png", tmp_path / "in/plate.####.png", tmp_path / "in"):
        result = cli("qc", pattern, "--fps", "24", "--json", tmp_path / "qc.json", "--overwrite", "--no-cache",
                     "--progress", "none")
        assert result.code in (0, 6), result.err
        report = json.loads((tmp_path / "qc.json").read_text())
        assert report["schema"] == "QcReport.1" and len(report["frames"]) == 4
    no_fps = cli("qc", tmp_path / "in/plate.%04d.png", "--progress", "none")
    assert no_fps.code == 2 and "--fps" in no_fps.err and "Traceback" not in no_fps.err
    nothing = cli("qc", tmp_path / "in/other.%04d.png", "--fps", "24", "--progress", "none")
    assert nothing.code == 3 and "matches no file" in nothing.err


def test_a_sequence_output_says_it_carries_no_audio(cli, tmp_path):
    write_png_sequence(tmp_path / "in", 1, 3)
    sound = write_clip(tmp_path / "sound.mkv", frames=24, audio=[("pcm_s16le", 48000, 2)], audio_seconds=1.0)
    result = cli("convert", tmp_path / "in/plate.%04d.png", "--fps", "24", "--audio", sound, "-o",
                 tmp_path / "o.%04d.png", "--no-cache", "--progress", "none")
    assert result.code == 0 and "the sequence carries no audio (write a video to keep it)" in result.err, result.err
    video = write_clip(tmp_path / "v.mp4", frames=3, audio=[("aac", 48000, 2)])
    own = cli("convert", video, "-o", tmp_path / "v.%04d.png", "--no-cache", "--progress", "none")
    assert own.code == 0 and "the sequence carries no audio" in own.err
    assert sorted(p.name for p in tmp_path.glob("v.*.png")) == ["v.0000.png", "v.0001.png", "v.0002.png"]
