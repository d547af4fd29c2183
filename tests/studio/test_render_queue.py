"""The render queue: jobs saved with the project, run one at a time through api.convert, progress, failure."""

from __future__ import annotations

from dataclasses import replace

import av

from engine.document import edits
from tests.support.data import DEMO_CLIP


def _small(window):
    """Quick masters for tests: small eyes, the per-frame path."""
    p = window.document.project
    window.document.load(replace(p, render=replace(p.render, max_width=160, temporal=False)), None,
                         window.document.clip_id)


def test_queue_a_shot_render_it_and_keep_the_queue_in_the_project(window, qtbot, tmp_path, make_window):
    assert window.open_media(DEMO_CLIP)
    _small(window)
    window.document.apply("cut", edits.set_cuts, window.document.clip_id, [(0, 8), (8, 72)])
    window.controller.position = 2
    job = window.enqueue("shot")
    out = window.document.project.job(job).output
    window.document.apply("out", lambda p: replace(p, queue=tuple(replace(j, output=str(tmp_path / "shot1.mp4"))
                                                                  for j in p.queue)))
    with qtbot.waitSignal(window.runner.job_finished, timeout=300_000) as blocker:
        window.runner.start()
    assert blocker.args[:2] == [job, "done"], blocker.args
    assert out.endswith(".mp4")
    with av.open(str(tmp_path / "shot1.mp4")) as c:
        stream = c.streams.video[0]
        frames = sum(1 for _ in c.decode(stream))
        assert (stream.width, frames) == (320, 8)  # full SBS of two 160-px eyes, the shot's 8 frames
    assert window.document.project.job(job).state == "done"
    path = tmp_path / "q.sdproj"
    window.dialogs.save_to = path
    assert window.save()
    again = make_window()
    assert again.open_project(path)
    assert [(j.id, j.state) for j in again.document.project.queue] == [(job, "done")]


def test_a_failing_job_is_marked_failed_with_a_dialog_and_can_be_retried(window, qtbot, tmp_path):
    assert window.open_media(DEMO_CLIP)
    _small(window)
    job = window.enqueue("range")
    window.document.apply("out", lambda p: replace(p, queue=tuple(replace(j, output="/proc/forbidden/x.mp4")
                                                                  for j in p.queue)))
    with qtbot.waitSignal(window.runner.job_finished, timeout=300_000) as blocker:
        window.runner.start()
    assert blocker.args[1] == "failed"
    assert window.document.project.job(job).state == "failed"
    assert window.dialogs.errors and "\n" not in window.dialogs.errors[-1]
    window.queue.table.selectRow(0)
    window.queue.retry_selected()
    assert window.document.project.job(job).state == "queued"
    window.document.stack.undo()  # the retry is an edit like any other
    assert window.document.project.job(job).state == "failed"


def test_a_job_with_a_refiner_asks_convert_for_it():
    from engine import api
    from engine.document import Project, RenderJob, RenderSettings
    from studio.queue.runner import job_request

    project = Project.single(str(DEMO_CLIP), 24, 10, ())
    plain = RenderJob("j1", "c1", 0, 10, "/tmp/out.mp4")
    refined = replace(plain, settings=RenderSettings(refiner="small", refiner_steps=6, refiner_seed=3,
                                                     refiner_blend="full"))
    assert job_request(project, plain).refiner is None
    assert job_request(project, refined).refiner == api.RefinerSpec("small", steps=6, seed=3, blend="full")
