"""Render settings of the diffusion refiner: on/off, model, steps, seed, blend (the project's RenderSettings).

Jobs copy the project's render settings when they are queued (``edits.enqueue``), so what this box shows
when a job is added is what that job's ``convert`` is asked for (``studio.queue.runner.job_request``).
Every change is one undoable edit (``edits.set_render_settings``).

The model list is the one ``spatialdreamer models list`` prints for refiners (``api.scan_refiners``: the
models folder's trained refiners, then the shipped ones); it is read when the box is first shown or
refreshed, never at import. A name typed in the box (or a folder path) is kept as it is: ``convert`` checks
it before any work and says what is missing.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QGroupBox, QSpinBox, QWidget

from engine.document import edits

BLENDS = (("composite", "Holes only (composite)"), ("full", "Whole view (full)"))


def refiner_names(models_dir: Path | None = None) -> list[tuple[str, str]]:
    """(name, state) of every refiner ``--refiner NAME`` finds (``models list``'s refiner rows)."""
    from engine import api

    folder, _ = api.resolve_models_dir(models_dir)
    return [(s.name, s.state) for s in api.scan_refiners(folder)]


class RefinerBox(QGroupBox):
    """The refiner part of the render settings, bound to a DocumentModel."""

    def __init__(self, document, parent: QWidget | None = None, models_dir: Path | None = None) -> None:
        super().__init__("Diffusion refiner", parent)
        self.document = document
        self.models_dir = models_dir
        self._updating = False
        self._listed = False
        self.enabled = QCheckBox("Refine the holes of the render")
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.setToolTip("A refiner from `spatialdreamer models list`, or a trained refiner's folder")
        self.steps = QSpinBox()
        self.steps.setRange(0, 200)
        self.steps.setSpecialValueText("model default")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.blend = QComboBox()
        for key, text in BLENDS:
            self.blend.addItem(text, key)
        form = self._form = QFormLayout(self)
        form.addRow(self.enabled)
        form.addRow("Model", self.model)
        form.addRow("Steps", self.steps)
        form.addRow("Seed", self.seed)
        form.addRow("Blend", self.blend)
        self.enabled.toggled.connect(self._commit)
        self.model.activated.connect(self._commit)
        self.model.lineEdit().editingFinished.connect(self._commit)
        self.steps.valueChanged.connect(self._commit)
        self.seed.valueChanged.connect(self._commit)
        self.blend.currentIndexChanged.connect(self._commit)
        document.changed.connect(lambda _p: self.refresh())
        self.refresh()

    def showEvent(self, event) -> None:
        if not self._listed:
            self.list_models()
        super().showEvent(event)

    def list_models(self) -> None:
        """Fill the model list from the models folder and the shipped refiners (keeps the current text)."""
        self._listed = True
        current = self.model.currentText()
        try:
            found = refiner_names(self.models_dir)
        except Exception as exc:  # a malformed user config: say so in the tooltip, keep the box usable
            found = []
            self.model.setToolTip(f"models folder unreadable: {exc}")
        self._updating = True
        try:
            self.model.clear()
            for name, state in found:
                self.model.addItem(name if state == "ok" else f"{name} ({state})", name)
            self.model.setEditText(current)
        finally:
            self._updating = False
        self.refresh()

    def refresh(self) -> None:
        """Show the project's render settings."""
        project = self.document.project
        self.setEnabled(project is not None)
        if project is None:
            return
        s = project.render
        self._updating = True
        try:
            self.enabled.setChecked(s.refiner is not None)
            if s.refiner is not None:
                index = self.model.findData(s.refiner)
                if index >= 0:
                    self.model.setCurrentIndex(index)
                self.model.setEditText(s.refiner)
            elif not self.model.currentText() and self.model.count():
                self.model.setCurrentIndex(0)
            self.steps.setValue(s.refiner_steps or 0)
            self.seed.setValue(s.refiner_seed)
            self.blend.setCurrentIndex(max(0, self.blend.findData(s.refiner_blend)))
            self._show_details(s.refiner is not None)
        finally:
            self._updating = False

    def _show_details(self, on: bool) -> None:
        """Model, steps, seed and blend shown and editable only while the refiner is on: off (the default),
        the box is one line, so the queue dock does not squeeze the viewer."""
        for w in (self.model, self.steps, self.seed, self.blend):
            w.setEnabled(on)
            self._form.setRowVisible(w, on)

    def _model_name(self) -> str | None:
        index = self.model.findText(self.model.currentText())
        data = self.model.itemData(index) if index >= 0 else None
        name = (data or self.model.currentText()).strip()
        return name or None

    def _commit(self, *_args) -> None:
        project = self.document.project
        if self._updating or project is None:
            return
        name = self._model_name() if self.enabled.isChecked() else None
        if self.enabled.isChecked() and name is None:  # nothing installed, nothing typed yet: ask for a folder
            self.enabled.setToolTip("No refiner found: train one (spatialdreamer train-refiner) or type its folder")
            self._show_details(True)
            self.model.setFocus()
            return
        settings = replace(project.render, refiner=name, refiner_steps=self.steps.value() or None,
                           refiner_seed=self.seed.value(), refiner_blend=self.blend.currentData())
        if settings != project.render:
            self.document.apply("Refiner settings", edits.set_render_settings, settings, merge="refiner-settings")
        else:
            self.refresh()
