"""The render settings' refiner control: model from `models list`, steps, seed, blend -> the queued job's convert."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine import api
from engine.document import Project, edits
from studio.document import DocumentModel
from studio.queue.panel import QueuePanel
from studio.queue.runner import QueueRunner, job_request
from tests.support.data import DEMO_CLIP
from tests.support.refiner import tiny_pipeline


@pytest.fixture
def models(tmp_path):
    """A models folder holding one trained-refiner folder (a saved tiny pipeline), as `models list` sees it."""
    folder = tmp_path / "models"
    tiny_pipeline().save_pretrained(str(folder / "shot-refiner"))
    return folder


@pytest.fixture
def panel(qtbot, models):
    document = DocumentModel()
    document.load(Project.single(str(DEMO_CLIP), 24, 10), None)
    runner = QueueRunner(document)
    widget = QueuePanel(document, runner, models_dir=models)
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    runner.close()


def test_the_model_list_is_the_refiners_models_list_finds(panel, models):
    names = [panel.refiner.model.itemData(i) for i in range(panel.refiner.model.count())]
    assert "shot-refiner" in names
    assert names[:1] == [s.name for s in api.scan_refiners(models)][:1]
    assert not panel.refiner.model.isEnabled()  # off until the refiner is switched on


def test_switching_the_refiner_on_is_carried_by_the_next_queued_jobs_convert(panel, qtbot, monkeypatch, tmp_path):
    box, document = panel.refiner, panel.document
    assert not box._form.isRowVisible(box.model)  # off: one line, the queue dock stays small
    box.enabled.setChecked(True)
    assert all(box._form.isRowVisible(w) for w in (box.model, box.steps, box.seed, box.blend))
    index = box.model.findData("shot-refiner")
    box.model.setCurrentIndex(index)
    box.model.activated.emit(index)
    box.steps.setValue(6)
    box.seed.setValue(3)
    box.blend.setCurrentIndex(box.blend.findData("full"))
    render = document.project.render
    assert (render.refiner, render.refiner_steps, render.refiner_seed, render.refiner_blend) == (
        "shot-refiner", 6, 3, "full")
    job = document.apply_result("Queue", edits.enqueue, "c1", 0, 10, str(tmp_path / "out.mp4"))

    seen = []

    def fake_convert(request, cancel=None):  # what the runner hands convert, without rendering
        seen.append(request)
        yield from ()

    monkeypatch.setattr("studio.queue.runner.api.convert", fake_convert)
    with qtbot.waitSignal(panel.runner.job_finished, timeout=30_000) as blocker:
        panel.runner.start()
    assert blocker.args[:2] == [job, "done"]
    assert seen[0].refiner == api.RefinerSpec("shot-refiner", steps=6, seed=3, blend="full")
    assert seen[0].output == tmp_path / "out.mp4" and (seen[0].start, seen[0].end) == ("0f", "10f")

    # the settings were one undo step (the control's edits merge); switching off queues plain jobs again
    document.stack.undo()  # the enqueue
    document.stack.undo()  # the refiner settings
    assert document.project.render.refiner is None and not box.enabled.isChecked()
    document.stack.redo()
    assert box.enabled.isChecked() and box.steps.value() == 6 and box.model.currentText() == "shot-refiner"
    box.enabled.setChecked(False)
    plain = document.apply_result("Queue", edits.enqueue, "c1", 0, 10, str(tmp_path / "plain.mp4"))
    assert job_request(document.project, document.project.job(plain)).refiner is None


def test_the_model_default_steps_and_a_typed_folder(panel, tmp_path):
    box, document = panel.refiner, panel.document
    box.enabled.setChecked(True)
    box.model.setEditText(str(tmp_path / "runs" / "mine"))
    box.model.lineEdit().editingFinished.emit()
    assert document.project.render.refiner == str(tmp_path / "runs" / "mine")
    assert document.project.render.refiner_steps is None  # 0 in the box = the model's own default
    document.load(replace(document.project, render=replace(document.project.render, refiner=None)), None)
    assert not box.enabled.isChecked() and not box.steps.isEnabled()


def test_with_no_refiner_installed_switching_on_asks_for_a_folder(qtbot, tmp_path):
    document = DocumentModel()
    document.load(Project.single(str(DEMO_CLIP), 24, 10), None)
    runner = QueueRunner(document)
    panel = QueuePanel(document, runner, models_dir=tmp_path / "no-models")
    qtbot.addWidget(panel)
    panel.show()
    try:
        box = panel.refiner
        assert box.model.count() == 0 and not box._form.isRowVisible(box.model)
        box.enabled.setChecked(True)  # nothing to pick: the folder field opens instead of the box refusing
        assert box.enabled.isChecked() and box.model.isEnabled() and box._form.isRowVisible(box.model)
        assert document.project.render.refiner is None and "type its folder" in box.enabled.toolTip()
        box.model.setEditText(str(tmp_path / "runs" / "mine"))
        box.model.lineEdit().editingFinished.emit()
        assert document.project.render.refiner == str(tmp_path / "runs" / "mine")
    finally:
        runner.close()
