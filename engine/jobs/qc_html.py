"""The self-contained HTML QC report: verdict, per-shot table, timeline, histograms, worst frames.

Every plot is drawn with matplotlib (Agg, no display) and embedded as
``<img src="data:image/png;base64,…">``, so the file can be mailed or archived alone.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import numpy as np

from engine.fileio import atomic_write_bytes
from engine.grading.qc import HIST_EDGES
from engine.jobs.qc_report import QcReport, Thumbnail


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _budget_lines(ax, report: QcReport, horizontal: bool) -> None:
    b = report.budget
    line = ax.axhline if horizontal else ax.axvline
    line(b.low, color="tab:green", ls="--", lw=1, label=f"budget {b.low:g} .. {b.high:g} %")
    line(b.high, color="tab:green", ls="--", lw=1)
    if b.excursion:
        line(b.excursion[0], color="tab:orange", ls=":", lw=1, label="brief excursion")
        line(b.excursion[1], color="tab:orange", ls=":", lw=1)
    limit = b.screen.divergence_limit_pct()
    if limit < 10:
        line(limit, color="tab:red", lw=1, label="divergence (65 mm)")


def timeline_plot(report: QcReport) -> str:
    """Per-frame p01..p99 band and extremes against the budget, cuts marked, frames over budget shaded."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 3.2))
    x = np.arange(len(report.frames))
    p01 = np.array([s.p01 for s in report.frames])
    p99 = np.array([s.p99 for s in report.frames])
    ax.fill_between(x, p01, p99, color="tab:blue", alpha=0.35, step="mid", label="1st–99th percentile")
    ax.plot(x, [s.p_min for s in report.frames], color="tab:blue", lw=0.6, alpha=0.6, label="min / max")
    ax.plot(x, [s.p_max for s in report.frames], color="tab:blue", lw=0.6, alpha=0.6)
    for i, state in enumerate(report.states):
        if state in ("over", "diverges"):
            ax.axvspan(i - 0.5, i + 0.5, color="tab:red", alpha=0.15, lw=0)
    for row in report.shots[1:]:
        ax.axvline(row.check.start - 0.5, color="0.3", lw=0.8)
    _budget_lines(ax, report, horizontal=True)
    ax.invert_yaxis()  # in front of the screen (p < 0) up
    ax.set_xlabel("frame")
    ax.set_ylabel("screen parallax, % of width\n(up = in front)")
    ax.legend(loc="upper right", fontsize=7, ncol=3)
    ax.grid(alpha=0.3)
    return _png(fig)


def histogram_plot(report: QcReport) -> str:
    """Parallax histogram of each shot (share of its pixels per 0.05 % bin) against the budget."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 3.0))
    centres = (HIST_EDGES[:-1] + HIST_EDGES[1:]) / 2
    lo, hi = report.budget.low, report.budget.high
    for i, row in enumerate(report.shots, 1):
        if row.histogram is None or not row.histogram.sum():
            continue
        share = row.histogram / row.histogram.sum()
        ax.step(centres, share, where="mid", lw=1, label=f"shot {i}")
        nz = np.flatnonzero(row.histogram)
        lo, hi = min(lo, centres[nz[0]]), max(hi, centres[nz[-1]])
    _budget_lines(ax, report, horizontal=False)
    ax.set_xlim(lo - 0.5, hi + 0.5)
    ax.set_xlabel("screen parallax, % of width (negative = in front of the screen)")
    ax.set_ylabel("share of pixels")
    ax.legend(fontsize=7, ncol=4)
    ax.grid(alpha=0.3)
    return _png(fig)


def thumbnail_plot(report: QcReport, thumb: Thumbnail) -> str:
    """One worst frame: the picture and its parallax heatmap, pixels outside the budget outlined."""
    plt = _pyplot()
    b = report.budget
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 2.6))
    a1.imshow(thumb.image)
    a1.set_title(f"frame {thumb.frame}", fontsize=8)
    span = max(abs(b.low), abs(b.high)) * 1.5
    im = a2.imshow(thumb.parallax, cmap="RdBu", vmin=-span, vmax=span)
    outside = np.nan_to_num((thumb.parallax < b.low) | (thumb.parallax > b.high)).astype(float)
    if outside.any() and not outside.all():
        a2.contour(outside, levels=[0.5], colors="k", linewidths=0.6)
    a2.set_title(f"parallax % (red = in front); {thumb.excess:+.2f} % past the budget", fontsize=8)
    fig.colorbar(im, ax=a2, fraction=0.046)
    for a in (a1, a2):
        a.set_axis_off()
    return _png(fig)


def _fmt(value, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else html.escape(str(value))


def shot_table(report: QcReport) -> str:
    data = report.to_dict()
    head = ("<tr><th>shot</th><th>frames</th><th>p01 %</th><th>p99 %</th><th>p01 / p99 px</th><th>p01 / p99 mm</th>"
            "<th>p01 / p99 °</th><th>over</th><th>excursion</th><th>diverging</th><th>window L / R %</th>"
            "<th>suggested D / c (budget used)</th><th>verdict</th></tr>")
    rows = []
    for i, r in enumerate(data["shots"], 1):
        s = r.get("suggestion")
        sug = f"{s['divergence']:.2f} / {s['convergence']:.3f} ({s['budget_used']:.0%})" if s else "–"
        verdict = "pass" if r["passes"] else "FAIL"
        rows.append(
            f"<tr class='{verdict.lower()}'><td>{i}</td><td>{r['start']}–{r['end'] - 1}</td><td>{_fmt(r['p01'])}</td>"
            f"<td>{_fmt(r['p99'])}</td><td>{_fmt(r['p01_px'], 1)} / {_fmt(r['p99_px'], 1)}</td>"
            f"<td>{_fmt(r['p01_mm'], 1)} / {_fmt(r['p99_mm'], 1)}</td>"
            f"<td>{_fmt(r['p01_deg'])} / {_fmt(r['p99_deg'])}</td><td>{r['frames_over']}</td>"
            f"<td>{r['frames_excursion']}</td><td>{r['frames_diverging']}</td>"
            f"<td>{_fmt(r['window_left'])} / {_fmt(r['window_right'])}</td><td>{sug}</td><td>{verdict}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _master_section(report: QcReport) -> str:
    m = report.master
    if m is None:
        return ""
    items = [("layout", m.layout + (" (eyes swapped on read)" if m.swap_eyes else "")),
             ("eye order", f"{m.eye_order} ({m.eye_order_votes[0]} edges agree, {m.eye_order_votes[1]} say swapped)"),
             ("consistently matched pixels", f"{m.matched_fraction:.0%}"),
             ("vertical disparity", f"{_fmt(m.vertical_pct)} % of height"),
             ("colour difference between eyes", f"ΔE {_fmt(m.colour_delta_e, 1)}")]
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in items)
    return f"<h2>Master checks (measured from its pixels)</h2><table>{cells}</table>"


def _list(title: str, items: list[str], cls: str) -> str:
    if not items:
        return ""
    return f"<h3>{title}</h3><ul class='{cls}'>" + "".join(f"<li>{html.escape(t)}</li>" for t in items) + "</ul>"


STYLE = """body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}tr.fail td{background:#fde2e2}
.verdict{font-size:20px;font-weight:bold}.pass{color:#176b1e}.failv{color:#b00020}ul.failures{color:#b00020}
img{max-width:100%}"""


def render_html(report: QcReport) -> str:
    """The whole report as one HTML document (plots inline as base64 PNG)."""
    b = report.budget
    verdict = ("<p class='verdict pass'>PASS</p>" if report.passed else
               f"<p class='verdict failv'>FAIL (exit code {report.exit_code})</p>")
    thumbs = "".join(f"<img alt='frame {t.frame}' src='{thumbnail_plot(report, t)}'>" for t in report.thumbnails)
    excursion = f"; brief excursions {b.excursion[0]:g} .. {b.excursion[1]:g} %" if b.excursion else ""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Stereo QC — {html.escape(report.input)}</title>"
        f"<style>{STYLE}</style></head><body><h1>Stereo QC</h1>"
        f"<p>{html.escape(report.input)} — {html.escape(report.mode)}; screen <b>{b.screen.name}</b> "
        f"({html.escape(b.screen.description)}); budget {b.low:g} .. {b.high:g} % of width{excursion}; "
        f"divergence limit {b.screen.divergence_limit_pct():.2f} %</p>{verdict}"
        f"{_list('Failures', report.failures, 'failures')}{_list('Warnings', report.warnings, 'warnings')}"
        f"{_list('Notes', report.notes, 'notes')}<h2>Shots</h2>{shot_table(report)}{_master_section(report)}"
        f"<h2>Parallax over time</h2><img alt='timeline' src='{timeline_plot(report)}'>"
        f"<h2>Parallax histograms</h2><img alt='histograms' src='{histogram_plot(report)}'>"
        f"<h2>Worst frames</h2>{thumbs or '<p>none measured</p>'}</body></html>")


def write_html(report: QcReport, path: Path) -> None:
    """Write the report atomically."""
    atomic_write_bytes(path, render_html(report).encode("utf-8"))


__all__ = ["histogram_plot", "render_html", "shot_table", "thumbnail_plot", "timeline_plot", "write_html"]
