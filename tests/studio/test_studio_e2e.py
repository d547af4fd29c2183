"""End to end: the main window on the demo clip — detect shots, two keyframes, a depth-curve change, undo
and redo, save, reopen, render the shot through the queue, and check the master (frames, layout, and that
the disparity at the two keyframes differs in the ratio of their divergences)."""

from __future__ import annotations

from dataclasses import replace

import av
import cv2
import numpy as np

from tests.support.data import DEMO_CLIP

D_A, D_B = 2.0, 6.0
FRAME_A, FRAME_B = 30, 31


def _eyes(path, frames):
    out = {}
    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(c.streams.video[0])):
            if i in frames:
                img = frame.to_ndarray(format="rgb24")
                w = img.shape[1] // 2
                out[i] = (img[:, :w], img[:, w:])
    return out


def _disparity(left, right):
    """Dense disparity left -> right (x_R = x_L - d), SGBM both signs, NaN where unmatched."""
    sgbm = cv2.StereoSGBM_create(minDisparity=-32, numDisparities=64, blockSize=5, P1=200, P2=800,
                                 uniquenessRatio=5, mode=cv2.STEREO_SGBM_MODE_HH)
    gl, gr = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (left, right))
    d = sgbm.compute(gl, gr).astype(np.float32) / 16.0
    d[d <= -32] = np.nan
    return d


def test_studio_end_to_end(make_window, qtbot, tmp_path):
    window = make_window()
    window.show()
    with qtbot.waitSignal(window.first_frame_shown, timeout=120_000):
        assert window.open_media(DEMO_CLIP)
    qtbot.waitUntil(lambda: window.controller.session is not None, timeout=60_000)
    with qtbot.waitSignal(window.jobs.finished, timeout=300_000,
                          check_params_cb=lambda _rid, result: isinstance(result, tuple)):
        window.detect_shots()  # (clip id, shot ranges) lands as one edit (none when nothing changes)
    clip = window.document.clip
    shot = clip.shot_index_at(FRAME_A)
    assert clip.shot_index_at(FRAME_B) == shot, "the two keyframes must sit in one shot"
    start_project = window.document.project
    # two keyframes through the inspector (editing a value off a keyframe adds one), then the curve
    for frame, value in ((FRAME_A, D_A), (FRAME_B, D_B)):
        window.controller.position = frame
        window.inspector.set_frame(frame)
        window.inspector.editors["divergence"].spin.setValue(value)
    window.controller.position = clip.shots[shot].start
    window.inspector.set_frame(clip.shots[shot].start)
    window.inspector.editors["gamma"].spin.setValue(0.8)
    graded = window.document.project
    g = graded.clip(clip.id).shots[shot].grade
    assert g.track("divergence").key_at(FRAME_A).value == D_A and g.track("divergence").key_at(FRAME_B).value == D_B
    assert graded.clip(clip.id).params_at(FRAME_B).curve.gamma == 0.8
    for _ in range(3):
        window.document.stack.undo()
    assert window.document.project.clip(clip.id).shots == start_project.clip(clip.id).shots
    for _ in range(3):
        window.document.stack.redo()
    assert window.document.project == graded
    # save, reopen in a fresh window
    path = tmp_path / "e2e.sdproj"
    window.dialogs.save_to = path
    assert window.save()
    again = make_window()
    assert again.open_project(path)
    assert again.document.project.clips == graded.clips
    p = again.document.project
    again.document.load(replace(p, render=replace(p.render, max_width=320, temporal=False)), path)
    again.controller.position = FRAME_A
    job = again.enqueue("shot")
    master = tmp_path / "master.mp4"
    again.document.apply("output", lambda q: replace(q, queue=tuple(replace(j, output=str(master)) for j in q.queue)))
    with qtbot.waitSignal(again.runner.job_finished, timeout=600_000) as blocker:
        again.runner.start()
    assert blocker.args[:2] == [job, "done"], blocker.args
    s = again.document.clip.shots[shot]
    with av.open(str(master)) as c:
        stream = c.streams.video[0]
        assert (stream.width, stream.height) == (640, 180)  # full SBS of two 320 × 180 eyes
        assert sum(1 for _ in c.decode(stream)) == len(s)
    eyes = _eyes(master, {FRAME_A - s.start, FRAME_B - s.start})
    d_a = _disparity(*eyes[FRAME_A - s.start])
    d_b = _disparity(*eyes[FRAME_B - s.start])
    both = np.isfinite(d_a) & np.isfinite(d_b) & (np.abs(d_a) > 0.5)
    assert both.mean() > 0.3
    ratio = float(np.sum(d_a[both] * d_b[both]) / np.sum(d_a[both] ** 2))
    assert abs(ratio / (D_B / D_A) - 1.0) <= 0.10, f"disparity ratio {ratio:.3f}, divergence ratio {D_B / D_A}"
