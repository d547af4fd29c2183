import numpy as np

from tests.support.data import DEMO_CLIP


def test_opening_a_clip_previews_the_graded_frame(window, qtbot):
    with qtbot.waitSignal(window.preview_ready, timeout=60_000):
        window.open_media(DEMO_CLIP)
    assert window.frame_count == 72
    assert window.slider.maximum() == 71
    pixmap = window.viewer.pixmap()
    assert pixmap is not None and not pixmap.isNull()
    image = pixmap.toImage()
    assert image.width() > 0 and image.height() > 0


def test_scrubbing_and_grading_rerender(window, qtbot):
    with qtbot.waitSignal(window.preview_ready, timeout=60_000):
        window.open_media(DEMO_CLIP)
    first = window.viewer.pixmap().toImage()
    with qtbot.waitSignal(window.preview_ready, timeout=60_000):
        window.layout_box.setCurrentText("sbs-half")
        window.divergence.setValue(6.0)
    second = window.viewer.pixmap().toImage()
    assert first != second


def test_bad_file_shows_one_line_error(window, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 1000)
    window.open_media(bad)
    message = window.statusBar().currentMessage()
    assert str(bad) in message and "\n" not in message
    assert window.media_path is None


def test_to_qimage_keeps_pixels():
    from studio.main_window import to_qimage

    image = np.zeros((4, 6, 3), np.uint8)
    image[1, 2] = (10, 200, 30)
    q = to_qimage(image)
    assert (q.width(), q.height()) == (6, 4)
    c = q.pixelColor(2, 1)
    assert (c.red(), c.green(), c.blue()) == (10, 200, 30)
