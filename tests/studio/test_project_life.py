"""Project life in the studio: save / open (atomic), autosave side files and crash recovery, disk full,
newer / older schemas, missing media relinked with the grades kept, recent files."""

from __future__ import annotations

import errno
import json
import os
import shutil

import pytest

from engine import api
from engine.document import edits
from studio import project_io
from tests.support.data import DEMO_CLIP


@pytest.fixture
def graded(window, qtbot, tmp_path):
    """The window with the demo clip imported and one divergence keyframe."""
    media = tmp_path / "media" / "demo.mp4"
    media.parent.mkdir()
    shutil.copy(DEMO_CLIP, media)
    assert window.open_media(media)
    clip = window.document.clip_id
    window.document.apply("key", edits.add_keyframe, clip, 0, "divergence", 20, 6.5)
    return window, media


def test_save_and_reopen_round_trip(graded, make_window, tmp_path):
    window, _media = graded
    path = tmp_path / "proj" / "cut.sdproj"
    window.dialogs.save_to = path
    assert window.save()
    assert path.exists() and not window.document.dirty
    assert json.loads(path.read_text())["schema"] == "Project.2"
    again = make_window()
    assert again.open_project(path)
    assert again.document.project.clips[0].shots == window.document.project.clips[0].shots
    assert again.recent.paths()[0] == path.resolve()


def test_autosave_goes_to_the_side_file_and_is_recovered_after_a_crash(graded, make_window, tmp_path):
    window, _media = graded
    path = tmp_path / "cut.sdproj"
    window.dialogs.save_to = path
    assert window.save()
    window.document.apply("key", edits.add_keyframe, window.document.clip_id, 0, "convergence", 30, 0.6)
    assert window.autosave()
    side = tmp_path / ".cut.sdproj.autosave"
    assert side.exists()
    assert not window.autosave()  # nothing changed since: no rewrite
    crashed_project = window.document.project
    # a crash: the window goes away without closing, the side file stays; the next start offers it
    fresh = make_window()
    fresh.recent.add(path)
    assert fresh.offer_recovery() == 1
    assert not fresh.recovery_bar.isHidden() and fresh.recovery_bar.current == side
    assert "cut.sdproj" in fresh.recovery_bar.message.text()
    assert fresh.document.project is None  # offered, not forced: nothing is replaced until the user says so
    fresh.recovery_bar.recover_button.click()
    assert fresh.document.project.clips[0].shots == crashed_project.clips[0].shots
    assert fresh.document.dirty and fresh.document.path == path and not side.exists()
    assert fresh.recovery_bar.isHidden()


def _leftover_untitled(name: str, mtime: float, body: str | None = None):
    """An untitled autosave a crash left in the user data folder (a valid empty project unless `body`)."""
    folder = project_io.user_data_dir() / "autosave"
    folder.mkdir(parents=True, exist_ok=True)
    side = folder / f"untitled-{name}{project_io.AUTOSAVE_SUFFIX}"
    if body is None:
        api.save_project(edits.add_clip(api.Project(clips=()), str(DEMO_CLIP), 24.0, 10, name="demo")[0], side)
    else:
        side.write_text(body)
    os.utime(side, (mtime, mtime))
    return side


def test_recovery_is_offered_newest_first_and_discard_deletes_only_the_chosen_one(make_window):
    old = _leftover_untitled("20261130-090000", 1_700_000_000)
    new = _leftover_untitled("20261201-090000", 1_700_100_000)
    window = make_window()
    assert window.offer_recovery() == 2
    bar = window.recovery_bar
    assert bar.current == new and "(1 of 2)" in bar.message.text()
    bar.discard_button.click()
    assert not new.exists() and old.exists()
    assert bar.current == old and "(2 of 2)" in bar.message.text()
    bar.later_button.click()
    assert bar.isHidden() and old.exists()  # "not now": offered again at the next start
    assert window.document.project is None
    assert make_window().offer_recovery() == 1


def test_a_broken_autosave_is_reported_kept_and_the_next_one_offered(make_window):
    good = _leftover_untitled("20261130-090000", 1_700_000_000)
    broken = _leftover_untitled("20261201-090000", 1_700_100_000, body="{not json")
    window = make_window()
    assert window.offer_recovery() == 2
    window.recovery_bar.recover_button.click()
    assert window.document.project is None and broken.exists()
    assert len(window.dialogs.errors) == 1 and "autosave is kept" in window.dialogs.errors[0]
    assert window.recovery_bar.current == good
    window.recovery_bar.recover_button.click()
    assert [c.name for c in window.document.project.clips] == ["demo"] and not good.exists()
    assert window.document.dirty and window.document.path is None


def test_recovering_asks_about_unsaved_changes_first(graded, make_window):
    window, _media = graded
    side = _leftover_untitled("20261201-090000", 1_700_100_000)
    assert window.offer_recovery() == 1
    window.dialogs.unsaved_answer = "cancel"
    before = window.document.project
    window.recovery_bar.recover_button.click()
    assert window.document.project is before and side.exists()
    assert not window.recovery_bar.isHidden()  # still on offer


def test_untitled_project_autosaves_to_the_user_data_folder(graded, monkeypatch, tmp_path):
    window, _media = graded
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert window.autosave()
    found = list((tmp_path / "data" / "spatialdreamer" / "autosave").glob("untitled-*.sdproj.autosave"))
    assert len(found) == 1
    assert project_io.project_for_autosave(found[0]) is None


def test_disk_full_on_save_keeps_the_previous_file_and_tells_the_user(graded, tmp_path, monkeypatch):
    window, _media = graded
    path = tmp_path / "cut.sdproj"
    window.dialogs.save_to = path
    assert window.save()
    before = path.read_bytes()
    window.document.apply("key", edits.add_keyframe, window.document.clip_id, 0, "gamma", 10, 2.0)

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr("engine.fileio.os.fsync", full)
        assert not window.save()
        assert path.read_bytes() == before
        assert "No space left" in window.dialogs.errors[-1] and "unchanged" in window.dialogs.errors[-1]
        assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]  # nothing partial left behind
        assert not window.autosave() and "autosave failed" in window.dialogs.errors[-1]
    assert window.document.dirty


def test_newer_schema_is_refused_older_is_upgraded_in_memory(window, tmp_path):
    newer = tmp_path / "future.sdproj"
    newer.write_text(json.dumps({"schema": "Project.9", "clips": []}))
    assert not window.open_project(newer)
    assert "newer" in window.dialogs.errors[-1] and "\n" not in window.dialogs.errors[-1]
    old = tmp_path / "old.sdproj"
    old.write_text(json.dumps({"schema": "Project.1", "name": "old", "media": str(DEMO_CLIP), "fps": "24",
                               "frame_count": 72, "shots": [{"start": 0, "end": 72, "keyframes": [
                                   {"frame": 0, "divergence": 4.0, "convergence": 0.4}]}]}))
    assert window.open_project(old)
    assert window.document.upgraded_from == "Project.1"
    assert window.document.clip.params_at(10).divergence == 4.0
    assert json.loads(old.read_text())["schema"] == "Project.1"  # written as Project.2 only on save
    window.dialogs.save_to = old
    assert window.save() and json.loads(old.read_text())["schema"] == "Project.2"


def test_missing_media_is_relinked_with_the_grades_kept(graded, make_window, tmp_path):
    window, media = graded
    path = tmp_path / "cut.sdproj"
    window.dialogs.save_to = path
    assert window.save()
    grades = window.document.project.clips[0].shots
    moved = tmp_path / "moved.mp4"
    shutil.move(media, moved)
    again = make_window()
    again.dialogs.relink_to = moved
    assert again.open_project(path)
    assert again.document.clip.media == str(moved)
    assert again.document.project.clips[0].shots == grades
    refused = make_window()
    refused.dialogs.relink_to = None
    shutil.move(moved, tmp_path / "gone.mp4")
    assert not refused.open_project(path)
    assert "not found" in refused.dialogs.errors[-1]


def test_import_cuts_from_an_edit(window, tmp_path):
    assert window.open_media(DEMO_CLIP)
    project = api.shots_to_project(str(DEMO_CLIP), 24, 72, [(0, 30), (30, 72)])
    otio = tmp_path / "cut.otio"
    api.write_otio(project, otio)
    assert window.import_cuts(otio)
    assert [(s.start, s.end) for s in window.document.clip.shots] == [(0, 30), (30, 72)]
    window.document.stack.undo()
    assert len(window.document.clip.shots) == 1
    bad = tmp_path / "bad.edl"
    bad.write_text("not an edl")
    assert not window.import_cuts(bad) and len(window.dialogs.errors) == 1
