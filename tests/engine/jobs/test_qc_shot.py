"""The studio's one-click shot suggestion equals `qc`'s for that shot (same δ, same rule)."""

from fractions import Fraction

import pytest

from engine import api
from engine.document import Grade, Keyframe, Project, Shot, Track
from tests.engine.jobs.test_qc import run, scene, write_video


@pytest.fixture()
def project(tmp_path):
    media = write_video(tmp_path / "src.mkv", [left for left, _ in scene(n=6)])
    shots = (Shot(0, 3, Grade(gamma=Track((Keyframe(0, 0.7),)))), Shot(3, 6, Grade()))
    return Project.single(str(media), Fraction(24), 6, shots)


def test_session_suggestion_matches_the_qc_report(project, tmp_path):
    request = api.ConvertRequest(input=project.clip().media, project=project, temporal=False,
                                 cache_dir=tmp_path / "cache")
    report = run(api.qc(api.QcRequest(request.input, screen="desktop", project=project, convert=request)))
    with api.open_session(project, request=request) as session:
        for i, row in enumerate(report.shots):
            shot, suggestion = run(api.suggest_shot(session, i, screen="desktop"))
            assert suggestion.divergence == pytest.approx(row.suggestion.divergence, rel=1e-6)
            assert suggestion.convergence == pytest.approx(row.suggestion.convergence, abs=1e-6)
            assert shot.grade.value_at("divergence", shot.start) == pytest.approx(suggestion.divergence)
    assert shot.grade.gamma == project.clip().shots[1].grade.gamma  # only D and c change
    first, _ = run(api.suggest_shot(api.open_session(project, request=request), 0, screen="desktop"))
    assert first.grade.gamma == project.clip().shots[0].grade.gamma  # the shot's curve is kept


def test_unknown_screen_is_refused(project, tmp_path):
    with api.open_session(project) as session, pytest.raises(api.UsageError, match="tv65, cinema"):
        run(api.suggest_shot(session, 0, screen="imax"))
