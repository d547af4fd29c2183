"""The HTML QC report: self-contained (plots as base64 PNG), and rendered by a real browser."""

import base64
import os
import re
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from engine import api
from tests.engine.jobs.test_qc import run, scene, write_master

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report_html(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("qc_html")
    master = write_master(tmp / "m.mkv", scene(n=4, d_bg=-4, d_fg=7))  # over budget: worst frames shown
    html = tmp / "report.html"
    report = run(api.qc(api.QcRequest(master, layout="sbs-full", report=html, json=tmp / "r.json")))
    return report, html


def test_report_is_self_contained_with_every_plot(report_html):
    report, html = report_html
    text = html.read_text(encoding="utf-8")
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", text)
    assert len(images) == 2 + len(report.thumbnails) and report.thumbnails
    for b64 in images:  # each one a real, non-blank PNG
        png = cv2.imdecode(np.frombuffer(base64.b64decode(b64), np.uint8), cv2.IMREAD_COLOR)
        assert png is not None and png.shape[0] > 100 and png.std() > 5
    assert "FAIL (exit code 6)" in text and "outside the budget" in text
    assert "http://" not in text and "https://" not in text  # nothing fetched from anywhere


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="needs Debian's chromium")
def test_headless_chromium_renders_the_plots(report_html, tmp_path):
    _, html = report_html
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,1600",
                    f"--screenshot={shot}", html.as_uri()], check=True, capture_output=True, timeout=120)
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (1600, 1100)
    # the timeline's blue parallax band and the heatmaps' red/blue are drawn: plots rendered, not broken images
    b, g, r = (image[..., k].astype(int) for k in range(3))
    blue = (b > r + 40) & (b > 150)
    red = (r > b + 60) & (r > 150)
    assert blue.mean() > 0.01 and red.mean() > 0.0005
    print(f"screenshot: {shot}")
