"""OTIO round trips, reading editors' timelines (gaps, foreign clips, timecode-based media) and CMX 3600 EDLs."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from engine.document import Grade, Keyframe, Project, Shot, StereoParams, Stroke, Track, WindowTrack
from engine.document.otio_io import (
    apply_frame_code_mode,
    project_from_otio,
    project_to_otio,
    read_edl,
    read_otio,
    write_otio,
)
from engine.errors import InvalidProject, OutputError

NTSC = Fraction(30000, 1001)


def graded_project(media: str = "/media/reel one/clip A.mov") -> Project:
    """Three shots with a gap (180..250) and keyframes of every interpolation."""
    first = Grade(divergence=Track((Keyframe(0, 2.0, "smooth"), Keyframe(60, 4.5), Keyframe(99, 3.0, "hold"))),
                  convergence=Track((Keyframe(0, 0.25, "smooth"), Keyframe(60, 0.5), Keyframe(99, 1 / 3, "hold"))),
                  gamma=Track((Keyframe(10, 0.5),)))
    second = Grade.constant(StereoParams(1.25, 0.125), 100)
    stroke = Stroke("s1", "flatten", 120, ((5.0, 6.0), (7.0, 8.0)), 9.0, 2.0, 0.5)
    window = (WindowTrack("right", Track((Keyframe(100, 0.8),))),)
    return Project.single(media, NTSC, 500, name="reel one", shots=(
        Shot(0, 100, first, name="Opening"), Shot(100, 180, second, "Close-up", (stroke,), window),
        Shot(250, 400, name="Wide")))


def rt(value: float, rate: float = 24.0) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(value, rate)


def span(start: float, duration: float, rate: float = 24.0) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(rt(start, rate), rt(duration, rate))


def clip(name: str, url: str | None, start: float, duration: float, rate: float = 24.0,
         available: otio.opentime.TimeRange | None = None) -> otio.schema.Clip:
    reference = (otio.schema.ExternalReference(target_url=url, available_range=available) if url
                 else otio.schema.MissingReference())
    return otio.schema.Clip(name=name, media_reference=reference, source_range=span(start, duration, rate))


# ---------------------------------------------------------------- round trip


def test_round_trip_preserves_shots_gaps_names_and_keyframes(tmp_path):
    project = graded_project()
    path = tmp_path / "reel.otio"
    write_otio(project, path)
    assert read_otio(path) == project
    assert project_from_otio(project_to_otio(project)) == project
    assert [p.name for p in tmp_path.iterdir()] == ["reel.otio"]  # nothing partial left beside it


def test_written_timeline_is_plain_otio_an_editor_can_read(tmp_path):
    project = graded_project()
    path = tmp_path / "reel.otio"
    write_otio(project, path)
    timeline = otio.adapters.read_from_file(str(path))
    (track,) = timeline.tracks
    assert track.kind == otio.schema.TrackKind.Video
    assert [type(item).__name__ for item in track] == ["Clip", "Clip", "Gap", "Clip"]
    clips = list(track.find_clips())
    assert [c.name for c in clips] == ["Opening", "Close-up", "Wide"]
    assert clips[2].source_range == span(250, 150, float(NTSC))
    assert track.range_of_child_at_index(3).start_time.value == 250  # clips sit at their source positions
    reference = clips[0].media_reference
    assert isinstance(reference, otio.schema.ExternalReference)
    assert otio.url_utils.filepath_from_url(reference.target_url) == project.media
    assert reference.available_range == span(0, 500, float(NTSC))
    ours = timeline.metadata["spatialdreamer"]
    assert (ours["schema"], ours["fps"], ours["frame_count"]) == ("OtioProject.2", "30000/1001", 500)
    shot_meta = clips[0].metadata["spatialdreamer"]
    assert shot_meta["schema"] == "OtioShot.2" and len(shot_meta["shot"]["tracks"]["divergence"]) == 3
    assert json.loads(path.read_text())["OTIO_SCHEMA"].startswith("Timeline.")


def test_relative_media_path_stays_relative(tmp_path):
    project = graded_project(media="plates/clip.mov")
    timeline = project_to_otio(project)
    assert timeline.find_clips()[0].media_reference.target_url == "plates/clip.mov"
    assert project_from_otio(timeline).media == "plates/clip.mov"


# ---------------------------------------------------------------- editors' timelines


def editor_timeline() -> otio.schema.Timeline:
    """As an editor exports it: media at its 01:00:00:00 timecode, a gap, foreign clips, a second track."""
    plate = span(86400, 100)  # the plate's available range starts at its timecode
    v1 = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    v1.append(otio.schema.Gap(source_range=span(0, 10)))
    v1.append(clip("A", "file:///Volumes/edit/plate.mov", 86410, 30, available=plate))
    v1.append(otio.schema.Transition(name="dissolve", in_offset=rt(2), out_offset=rt(2)))
    v1.append(clip("B", "file:///Volumes/edit/other.mov", 500, 20))
    v1.append(otio.schema.Clip(name="slate", media_reference=otio.schema.GeneratorReference(
        generator_kind="SMPTEBars"), source_range=span(0, 12)))
    v1.append(clip("C", "file:///Volumes/edit/plate.mov", 86450, 40, available=plate))
    v2 = otio.schema.Track(name="V2", kind=otio.schema.TrackKind.Video)
    v2.append(clip("D", "file:///Volumes/edit/plate.mov", 86420, 5, available=plate))
    a1 = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    a1.append(clip("sound", "file:///Volumes/edit/plate.mov", 86400, 100, available=plate))
    timeline = otio.schema.Timeline(name="cut")
    timeline.tracks.extend([v1, v2, a1])
    return timeline


def test_editor_timeline_gives_shots_of_our_media_with_notes_for_the_rest(tmp_path):
    path = tmp_path / "cut.otio"
    path.write_text(otio.adapters.write_to_string(editor_timeline(), "otio_json"))
    notes: list[str] = []
    project = read_otio(path, media_path="/projects/relinked/plate.mov", notes=notes)
    assert [(s.start, s.end, s.name) for s in project.shots] == [(10, 40, "A"), (50, 90, "C")]
    assert project.media == "/projects/relinked/plate.mov"
    assert project.fps == Fraction(24) and project.frame_count == 100  # from the available range
    assert project.name == "cut"
    for shot in project.shots:  # no grade stored: ungraded (the job's constant grade applies)
        assert shot.grade == Grade() and not shot.grade.is_keyed
    text = "\n".join(notes)
    assert "'B'" in text and "other.mov" in text
    assert "slate" in text and "generator SMPTEBars" in text
    assert "'D'" in text and "overlaps" in text
    assert "dissolve" in text and "cut" in text


def test_media_defaults_to_the_first_clip_and_ntsc_rates_are_exact():
    rate = float(Fraction(24000, 1001))
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    track.append(clip("only", "shots/plate.mov", 24, 48, rate=rate))
    timeline = otio.schema.Timeline(tracks=[track])
    project = project_from_otio(timeline)
    assert project.media == "shots/plate.mov" and project.fps == Fraction(24000, 1001)
    assert [(s.start, s.end) for s in project.shots] == [(24, 72)]
    assert project.frame_count == 72  # no available range: the end of the last shot
    assert project_from_otio(timeline, frame_count=500, fps=Fraction(24000, 1001)).frame_count == 500


def test_keyframes_are_restored_only_from_our_metadata():
    project = graded_project()
    timeline = project_to_otio(project)
    stripped = project_to_otio(project)
    for item in stripped.find_clips():
        del item.metadata["spatialdreamer"]
    assert project_from_otio(timeline).shots[0].grade == project.shots[0].grade
    assert project_from_otio(stripped).shots[0].grade == Grade()
    assert project_from_otio(timeline).shots[1] == project.shots[1]  # strokes and windows too


def test_otio_shot_1_metadata_is_upgraded():
    """What `shots --otio` wrote before Project.2 (OtioShot.1 / OtioProject.1) still loads with its grades."""
    timeline = project_to_otio(graded_project())
    timeline.metadata["spatialdreamer"] = {"schema": "OtioProject.1", "name": "old", "media": graded_project().media,
                                           "fps": "30000/1001", "frame_count": 500}
    first = timeline.find_clips()[0]
    first.metadata["spatialdreamer"] = {"schema": "OtioShot.1", "keyframes": [
        {"frame": 0, "divergence": 2.0, "convergence": 0.25, "interpolation": "smooth"},
        {"frame": 60, "divergence": 4.5, "convergence": 0.5, "interpolation": "linear"}]}
    project = project_from_otio(timeline)
    assert project.name == "old" and project.clip().id == "c1"
    assert project.params_at(60) == StereoParams(4.5, 0.5)
    assert project.params_at(30).divergence == pytest.approx(3.25)


# ---------------------------------------------------------------- bad OTIO files


def write_text(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, needle", [
    ("{ this is not json", "not a valid OTIO file"),
    ('{"OTIO_SCHEMA": "Clip.2", "name": "x"}', "not a valid OTIO file"),
    ("[]", "not an OTIO Timeline"),
])
def test_unreadable_otio_names_the_file(tmp_path, text, needle):
    path = write_text(tmp_path, "bad.otio", text)
    with pytest.raises(InvalidProject, match=needle) as info:
        read_otio(path)
    assert str(path) in info.value.one_line() and info.value.exit_code == 3


def test_missing_otio_file(tmp_path):
    with pytest.raises(InvalidProject, match="not found") as info:
        read_otio(tmp_path / "nope.otio")
    assert str(tmp_path / "nope.otio") in str(info.value)


def test_newer_schema_and_bad_keyframes_are_invalid_projects(tmp_path):
    timeline = project_to_otio(graded_project())
    timeline.metadata["spatialdreamer"]["schema"] = "OtioProject.7"
    newer = write_text(tmp_path, "newer.otio", otio.adapters.write_to_string(timeline, "otio_json"))
    with pytest.raises(InvalidProject, match="newer") as info:
        read_otio(newer)
    assert str(newer) in str(info.value)
    timeline = project_to_otio(graded_project())
    timeline.find_clips()[0].metadata["spatialdreamer"]["shot"]["tracks"]["divergence"][0]["value"] = "lots"
    broken = write_text(tmp_path, "broken.otio", otio.adapters.write_to_string(timeline, "otio_json"))
    with pytest.raises(InvalidProject, match="grade of clip 'Opening'") as info:
        read_otio(broken)
    assert str(broken) in str(info.value)


def test_timeline_without_our_media_says_what_it_uses(tmp_path):
    path = tmp_path / "cut.otio"
    path.write_text(otio.adapters.write_to_string(editor_timeline(), "otio_json"))
    with pytest.raises(InvalidProject, match=r"no clip in the timeline uses stranger\.mov") as info:
        read_otio(path, media_path="stranger.mov")
    message = str(info.value)
    assert str(path) in message and "plate.mov" in message and "other.mov" in message


def test_write_otio_replaces_atomically_and_reports_unwritable_places(tmp_path):
    path = tmp_path / "reel.otio"
    path.write_text("old")
    write_otio(graded_project(), path)
    assert read_otio(path) == graded_project()
    with pytest.raises(OutputError) as info:
        write_otio(graded_project(), tmp_path / "missing" / "reel.otio")
    assert info.value.exit_code == 4 and "missing" in str(info.value)


# ---------------------------------------------------------------- CMX 3600 EDL

NON_DROP_EDL = """TITLE: four shots
FCM: NON-DROP FRAME

001  AX       V     C        01:00:00:00 01:00:00:17 00:00:00:00 00:00:00:17
* FROM CLIP NAME: four_shots.mp4

002  AX       V     C        01:00:00:17 01:00:01:17 00:00:00:17 00:00:01:17
* FROM CLIP: /mnt/rushes/four_shots.mp4

003  BL       V     C        00:00:00:00 00:00:00:12 00:00:01:17 00:00:02:05
004  AX       V     C        01:00:05:00 01:00:06:00 00:00:02:05 00:00:03:05
* FROM CLIP NAME: other_camera.mov

005  AX       V     C        01:00:02:12 01:00:03:08 00:00:03:05 00:00:04:01
006  AX       A     C        01:00:00:00 01:00:01:00 00:00:04:01 00:00:05:01
"""

# 29.97 drop-frame: ;00 and ;01 do not exist at the start of minute 1, so 00:00:59;28 -> 00:01:00;04
# is 4 frames. Source frames counted by hand: 59*30+20 = 1790, 59*30+28 = 1798, 1800+4-2 = 1802,
# 1830-2 = 1828.
DROP_EDL = """TITLE: drop frame
FCM: DROP FRAME
001  AX  V  C  00:00:59;20 00:00:59;28 00:00:00;00 00:00:00;08
002  AX  V  C  00:00:59;28 00:01:00;04 00:00:00;08 00:00:00;12
003  AX  V  C  00:01:00;04 00:01:01;00 00:00:00;12 00:00:01;08
"""
DROP_SHOTS = [(1790, 1798), (1798, 1802), (1802, 1828)]


def test_edl_cuts_read_against_the_media_start_timecode(tmp_path):
    path = write_text(tmp_path, "cut.edl", NON_DROP_EDL)
    notes: list[str] = []
    project = read_edl(path, Fraction(24), "/footage/four_shots.mp4", start_timecode="01:00:00:00",
                       frame_count=80, notes=notes)
    assert [(s.start, s.end) for s in project.shots] == [(0, 17), (17, 41), (60, 80)]
    assert project.fps == Fraction(24) and project.frame_count == 80 and project.name == "four shots"
    assert project.media == "/footage/four_shots.mp4"
    text = "\n".join(notes)
    assert "generator black" in text and "other_camera.mov" in text


def test_edl_events_beyond_the_media_are_trimmed_with_a_note(tmp_path):
    path = write_text(tmp_path, "cut.edl", NON_DROP_EDL)
    notes: list[str] = []
    project = read_edl(path, Fraction(24), "four_shots.mp4", start_timecode="01:00:00:00", frame_count=70,
                       notes=notes)
    assert [(s.start, s.end) for s in project.shots] == [(0, 17), (17, 41), (60, 70)]
    assert any("trimmed" in n for n in notes)
    no_tc = read_edl(path, Fraction(24), "four_shots.mp4")  # media without a timecode: counted from 0
    assert no_tc.shots[0].start == 86400 and no_tc.frame_count == 86480


@pytest.mark.parametrize("variant", ["semicolons", "fcm-with-colons"])
def test_drop_frame_edl(tmp_path, variant):
    text = DROP_EDL if variant == "semicolons" else DROP_EDL.replace(";", ":")
    path = write_text(tmp_path, "df.edl", text)
    project = read_edl(path, NTSC, "clip.mov", start_timecode="00:00:00;00", frame_count=3000)
    assert [(s.start, s.end) for s in project.shots] == DROP_SHOTS
    offset = read_edl(path, NTSC, "clip.mov", start_timecode="00:00:59;20", frame_count=100)
    assert [(s.start, s.end) for s in offset.shots] == [(a - 1790, b - 1790) for a, b in DROP_SHOTS]


def test_non_drop_edl_at_29_97(tmp_path):
    path = write_text(tmp_path, "ndf.edl", """TITLE: non-drop
FCM: NON-DROP FRAME
001  AX  V  C  00:00:59:20 00:00:59:28 00:00:00:00 00:00:00:08
002  AX  V  C  00:00:59:28 00:01:00:04 00:00:00:08 00:00:00:14
003  AX  V  C  00:01:00:04 00:01:01:00 00:00:00:14 00:00:01:10
""")
    project = read_edl(path, NTSC, "clip.mov")
    assert [(s.start, s.end) for s in project.shots] == [(1790, 1798), (1798, 1804), (1804, 1830)]


def test_frame_code_mode_marks_drop_frame_events_only():
    text = ("TITLE: x\nFCM: DROP FRAME\n001  AX  V  C  00:00:01:00 00:00:02:00 00:00:00:00 00:00:01:00\n"
            "* LOC: 00:00:01:00 RED note\nFCM: NON-DROP FRAME\n"
            "002  AX  V  C  00:00:03:00 00:00:04:00 00:00:01:00 00:00:02:00\n")
    lines = apply_frame_code_mode(text).splitlines()
    assert lines[2] == "001  AX  V  C  00:00:01;00 00:00:02;00 00:00:00;00 00:00:01;00"
    assert lines[3] == "* LOC: 00:00:01:00 RED note" and lines[5].endswith("00:00:01:00 00:00:02:00")


@pytest.mark.parametrize("text, needle", [
    ("hello, this is not an edit list\n", "not a valid CMX 3600 EDL"),
    ("TITLE: x\n001  AX  V  C  01:00:00:00 01:00:01:00 01:00:00:00 01:00:02:00\n", "duration"),
    ("TITLE: x\n001  AX  V  C  01:00:00:00 01:00:01:30 01:00:00:00 01:00:01:30\n", "not a valid CMX 3600 EDL"),
    ("TITLE: nothing here\n", "no events"),
    ("TITLE: x\n001  AX  V  C  01:00:00;00 01:00:01;00 01:00:00;00 01:00:01;00\n", "drop-frame"),
])
def test_bad_edl_is_an_invalid_project_naming_the_file(tmp_path, text, needle):
    path = write_text(tmp_path, "bad.edl", text)
    with pytest.raises(InvalidProject, match=needle) as info:
        read_edl(path, Fraction(24), "clip.mov")
    assert str(path) in str(info.value)


def test_edl_without_events_for_the_media(tmp_path):
    path = write_text(tmp_path, "cut.edl", NON_DROP_EDL.replace("005  AX       V     C        01:00:02:12 "
                                                                "01:00:03:08 00:00:03:05 00:00:04:01\n", ""))
    with pytest.raises(InvalidProject, match="no clip in the timeline uses unrelated.mov"):
        read_edl(path, Fraction(24), "unrelated.mov", start_timecode="01:00:00:00")
