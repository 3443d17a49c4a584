"""``livesegment live``: headless live runs on a file source into a fake virtual camera and a
recording; the status line, a clean Ctrl-C, and the messages for a missing sink or extra."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import av
import numpy as np
import pytest

from livesegment.cli import main
from livesegment.core.frames import Composed, Frame
from livesegment.pipeline.headless import HeadlessStatus, status_line
from livesegment.pipeline.live import LiveStats
from tests.conftest import make_clip
from tests.pipeline.test_virtualcam import RecordingBackend, backend  # noqa: F401 - fixture

pyvirtualcam = pytest.importorskip("pyvirtualcam")
FAST = ["--device", "cpu", "--size", "64"]


def decoded_frames(path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def test_live_file_to_virtual_camera_and_recording(tmp_path, backend, capsys):  # noqa: F811
    clip = tmp_path / "clip.mp4"
    make_clip(clip, frames=50, size=(96, 128), rate=10)  # 5 s: outlasts the model's warm-up
    out = tmp_path / "rec.mp4"
    code = main(["live", "--source", str(clip), "--virtual-camera", "--virtual-camera-backend",
                 "recording", "-o", str(out), "--model", "espnetv2-voc", *FAST])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "sending 128x96 at 10 fps to virtual camera" in err
    summary = next(line for line in err.splitlines() if line.startswith("live finished: "))
    delivered = int(summary.split()[2])
    assert 2 <= delivered <= 50 and "ended by end of source" in summary
    rec = backend.instances[0]
    assert (rec.width, rec.height, rec.fps) == (128, 96, 10) and rec.closed
    assert len(rec.frames) >= delivered and rec.frames[0].size == 96 * 128 * 3
    assert f"recorded {out}" in summary and decoded_frames(out) == delivered


def test_live_without_a_sink_says_what_to_add(capsys):
    assert main(["live", "--source", "0"]) == 2
    assert "--virtual-camera and/or -o FILE" in capsys.readouterr().err


def test_live_without_pyvirtualcam_answers_before_loading_anything(monkeypatch, capsys,
                                                                   tmp_path):
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert main(["live", "--source", str(tmp_path / "absent.mp4"), "--virtual-camera"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("livesegment: the virtual camera needs pyvirtualcam (GPL-2.0, optional): "
                   "pip install 'livesegment[virtualcam]'")


def test_ctrl_c_stops_cleanly_and_keeps_the_recording(tmp_path):
    clip = tmp_path / "long.mp4"
    make_clip(clip, frames=300, size=(96, 128), rate=25)  # 12 s: outlives the test
    out = tmp_path / "rec.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "livesegment", "live", "--source", str(clip),
                             "-o", str(out), *FAST], stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while not any("preparing" in line for line in lines) and time.monotonic() < deadline:
        time.sleep(0.1)  # the run has started (and handles Ctrl-C) once the model prepares
    time.sleep(6)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    reader.join(timeout=10)
    err = "".join(lines)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    status = [line for line in err.splitlines()
              if line.startswith("live: ") and "fps shown" in line]
    assert status, err  # a plain status line every 5 s when stderr is not a terminal
    summary = err.strip().splitlines()[-1]
    assert "ended by stopped" in summary and f"recorded {out}" in summary
    assert summary.startswith("live finished: ")
    assert decoded_frames(out) == int(summary.split()[2]) > 10


@pytest.mark.parametrize("extra, tail", [("", "espnetv2-voc on cpu at 256"),
                                         ("virtual camera 30 sent", "| virtual camera 30 sent")])
def test_status_line_names_pace_latency_and_drops(extra, tail):
    stats = LiveStats(29.97, 12.5, 341, 83.2, "espnetv2-voc", "cpu", 256)
    line = status_line(HeadlessStatus(stats, 12.4, 100, 8.0), extra)
    assert line.startswith("live:  12.4 fps shown (source 30.0), model 12.5 fps x1, "
                           "latency   83 ms, 341 dropped")
    assert line.endswith(tail)


def test_status_line_at_the_camera_pace_gives_the_masks_age_and_the_auto_size():
    stats = LiveStats(30.0, 25.1, 28, 16.4, "espnetv2-voc", "cpu", 192, workers=2,
                      display_fps=30.0, mask_age_ms=151.2, pace="camera", auto_size=True)
    line = status_line(HeadlessStatus(stats, 29.9, 300, 10.0))
    assert line == ("live:  29.9 fps shown (source 30.0), model 25.1 fps x2, latency   16 ms, "
                    "mask  151 ms old, 28 dropped, espnetv2-voc on cpu at auto 192")


def test_composed_frames_reach_every_sink_once():
    from livesegment.pipeline.headless import run_headless
    import threading

    class Pipeline:  # the parts of LivePipeline that run_headless reads
        def __init__(self):
            from livesegment.pipeline.slots import LatestFrameSlot

            self.results, self.frames = LatestFrameSlot(), LatestFrameSlot()

        def stats(self):
            return LiveStats(0, 0, 0, 0, "m", "cpu", 1)

    pipe = Pipeline()
    got_a, got_b = [], []
    stop, ended = threading.Event(), threading.Event()

    def feed():
        for i in range(5):
            pipe.results.put(Composed(Frame(i, i / 10, np.zeros((2, 2, 3), np.uint8)),
                                      np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), np.uint8)))
            time.sleep(0.1)
        ended.set()

    threading.Thread(target=feed).start()
    report = run_headless(pipe, [lambda c: got_a.append(c.frame.index),
                                 lambda c: got_b.append(c.frame.index)], stop, ended)
    assert got_a == got_b == [0, 1, 2, 3, 4]
    assert report.delivered == 5 and report.reason == "end of source"


def test_live_applies_the_effect_to_what_it_sends(tmp_path, backend, capsys):  # noqa: F811
    clip = tmp_path / "clip.mp4"
    make_clip(clip, frames=40, size=(96, 128), rate=10)  # no person: all of it is background
    code = main(["live", "--source", str(clip), "--virtual-camera", "--virtual-camera-backend",
                 "recording", "--model", "espnetv2-voc", "--classes", "person", "--effect",
                 "color", "--background", "#00ff00", *FAST])
    assert code == 0, capsys.readouterr().err
    sent = backend.instances[0].frames[-1].reshape(96, 128, 3)
    assert (sent == (0, 255, 0)).all()  # BGR green: the background replaced everywhere


def test_live_refuses_the_alpha_effect(capsys):
    assert main(["live", "--source", "0", "-o", "x.mp4", "--effect", "alpha"]) == 2
    assert "alpha effect needs a file that keeps transparency" in capsys.readouterr().err


def test_video_call_mode_defaults_to_the_portrait_model(tmp_path, backend, capsys):  # noqa: F811
    from livesegment.core.models.catalog import DEFAULT_PORTRAIT_MODEL

    clip = tmp_path / "clip.mp4"
    make_clip(clip, frames=30, size=(96, 128), rate=10)
    assert main(["live", "--source", str(clip), "--virtual-camera", "--virtual-camera-backend",
                 "recording", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert f"preparing {DEFAULT_PORTRAIT_MODEL} for 128x96 frames" in err
    out = tmp_path / "rec.mp4"
    assert main(["live", "--source", str(clip), "-o", str(out), *FAST]) == 0
    assert "preparing espnetv2-voc" in capsys.readouterr().err  # without a virtual camera


@pytest.mark.parametrize("extra, expected", [([], (0.9, True)),
                                             (["--smoothing", "0.3", "--no-refine"], (0.3, False))])
def test_live_hands_the_mask_options_to_the_pipeline(tmp_path, monkeypatch, extra, expected):
    import livesegment.pipeline.live as live

    seen = {}

    class Stop(Exception):
        pass

    def fake_pipeline(*args, masks, **kwargs):
        seen["masks"] = (masks.smoothing, masks.refine)
        raise Stop

    monkeypatch.setattr(live, "LivePipeline", fake_pipeline)
    clip = tmp_path / "clip.mp4"
    make_clip(clip, frames=3, size=(96, 128))
    with pytest.raises(Stop):
        main(["live", "--source", str(clip), "-o", str(tmp_path / "o.mp4"), *FAST, *extra])
    assert seen["masks"] == expected


def test_live_at_the_camera_pace_with_auto_size_and_workers(tmp_path, capsys):
    """Every frame of a 20 fps file is recorded at the camera's pace, while the model runs
    at its own; the status line says so. (--size auto starts from the model's 256.)"""
    clip = tmp_path / "clip.mp4"
    make_clip(clip, frames=140, size=(96, 128), rate=20)  # 7 s
    out = tmp_path / "rec.mp4"
    code = main(["live", "--source", str(clip), "-o", str(out), "--device", "cpu",
                 "--size", "auto", "--pace", "camera", "--workers", "2", "--threads", "1"])
    err = capsys.readouterr().err
    assert code == 0, err
    status = [line for line in err.splitlines() if line.startswith("live: ")]
    assert status and " x2, " in status[-1] and " ms old, " in status[-1], err
    assert " at auto " in status[-1]
    summary = next(line for line in err.splitlines() if line.startswith("live finished: "))
    # the 20 fps source after the model's start: most of its frames composed and recorded
    assert int(summary.split()[2]) >= 60 and decoded_frames(out) == int(summary.split()[2])


def test_live_size_auto_is_refused_for_a_fixed_input_model(tmp_path, capsys):
    code = main(["live", "--source", str(tmp_path / "x.mp4"), "-o", str(tmp_path / "o.mp4"),
                 "--model", "mediapipe-selfie", "--size", "auto"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err == ("livesegment: model mediapipe-selfie takes a fixed 256x256 input; --size auto "
                   "does not apply to it")
