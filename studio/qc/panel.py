"""The inspector's comfort section: the one-click grade suggestion for the shot at the playhead and the
clip's QC (its verdict, failures and warnings), both against the screen chosen in the inspector."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout


class QcPanel(QGroupBox):
    """Calls its QcTool (`tool`)."""

    def __init__(self, tool, parent=None) -> None:
        super().__init__("Comfort (QC)", parent)
        self.tool = tool
        self.suggest_button = QPushButton("Suggest grade for this shot")
        self.suggest_button.setToolTip("Fit D and c of the shot at the playhead to the screen's budget "
                                       "(90 % of it, keeping the shot's relative depth); one undo step")
        self.suggest_button.clicked.connect(tool.suggest)
        self.windows = QCheckBox("with floating windows", checked=True)
        self.run_button = QPushButton("Run QC on the clip")
        self.run_button.clicked.connect(tool.run_qc)
        self.suggestion = QLabel("", wordWrap=True)
        self.verdict = QLabel("", wordWrap=True)
        row = QHBoxLayout()
        row.addWidget(self.suggest_button)
        row.addWidget(self.windows)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.suggestion)
        layout.addWidget(self.run_button)
        layout.addWidget(self.verdict)

    def show_suggesting(self, screen: str) -> None:
        self.suggestion.setText(f"measuring the shot for {screen}…")

    def show_suggestion(self, s, budget, shot: int) -> None:
        used = s.budget_used(budget) * 100
        text = (f"Shot {shot + 1}: D {s.divergence:.2f} %, c {s.convergence:.3f} → parallax {s.p_low:+.2f} … "
                f"{s.p_high:+.2f} % ({used:.0f} % of {budget.low:+.2f} … {budget.high:+.2f} %)")
        if s.flat:
            text += "; the shot is flat: default strength on the screen plane"
        if s.window_left or s.window_right:
            text += f"; floating windows L {s.window_left:.2f} % R {s.window_right:.2f} %"
        self.suggestion.setText(text)

    def show_qc_running(self, screen: str) -> None:
        self.verdict.setText(f"checking the clip for {screen}…")

    def show_qc(self, report, label: str) -> None:
        lines = [label, *report.failures[:3], *report.warnings[:2]]
        self.verdict.setText("\n".join(lines))
        self.verdict.setProperty("warning", not report.passed)
        self.verdict.setProperty("ok", report.passed)
        self.verdict.style().unpolish(self.verdict)
        self.verdict.style().polish(self.verdict)

    def show_failure(self, message: str) -> None:
        self.verdict.setText(message)
