"""--name-for-players: CONVENTIONS.md "Files" suffixes."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.jobs.plan import output_paths, player_name


@pytest.mark.parametrize(("layout", "name"), [("sbs-half", "shot_LR.mp4"), ("sbs-full", "shot_LRF.mp4"),
                                              ("tb-half", "shot_TB.mp4"), ("tb-full", "shot_TBF.mp4"),
                                              ("anaglyph", "shot.mp4"), ("pair", "shot.mp4")])
def test_each_packing_gets_the_suffix_players_detect(layout: str, name: str) -> None:
    assert player_name(Path("out/shot.mp4"), layout) == Path("out") / name


def test_a_name_already_suffixed_is_kept_and_pair_eyes_stay_last() -> None:
    assert player_name(Path("shot_LR.mkv"), "sbs-half") == Path("shot_LR.mkv")
    assert player_name(Path("shot_lrf.mkv"), "sbs-full") == Path("shot_lrf.mkv")
    assert player_name(Path("shot_LR.mkv"), "sbs-full") == Path("shot_LR_LRF.mkv")  # _LR is not _LRF
    assert output_paths(player_name(Path("a.mp4"), "pair"), "pair") == (Path("a_L.mp4"), Path("a_R.mp4"))
