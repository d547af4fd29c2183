"""convert says when its container cannot mark the master as stereo, and tags it wherever it can."""

from __future__ import annotations

from engine.media import probe
from engine.media.isobmff import read_st3d
from tests.support.clips import write_clip


def test_anaglyph_mp4_is_told_it_carries_no_stereo_tag_and_sbs_mp4_gets_st3d(cli, tmp_path):
    source = write_clip(tmp_path / "s.mp4", frames=2)
    anaglyph = cli("convert", source, "-o", tmp_path / "a.mp4", "--layout", "anaglyph", "--progress", "none")
    assert anaglyph.code == 0 and "cannot mark anaglyph cyan red video as stereo" in anaglyph.err, anaglyph.err
    assert read_st3d(tmp_path / "a.mp4") is None
    sbs = cli("convert", source, "-o", tmp_path / "b.mp4", "--layout", "sbs-half", "--progress", "none")
    assert sbs.code == 0 and "cannot mark" not in sbs.err, sbs.err
    assert read_st3d(tmp_path / "b.mp4") == 2 and probe(tmp_path / "b.mp4").video.stereo_mode == "left_right"


def test_name_for_players_adds_the_packing_suffix(cli, tmp_path):
    source = write_clip(tmp_path / "s.mp4", frames=2)
    result = cli("convert", source, "-o", tmp_path / "shot.mp4", "--layout", "tb-half", "--name-for-players",
                 "--progress", "none")
    assert result.code == 0, result.err
    assert "shot_TB.mp4" in result.err and not (tmp_path / "shot.mp4").exists()
    assert probe(tmp_path / "shot_TB.mp4").video.stereo_mode == "top_bottom"
