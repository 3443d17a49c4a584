"""No success without output: a live run whose stages cannot start, a recording that failed on
the way, a stats file on a full disk. Each ends with exit 2 and a line naming what failed,
never exit 0 with nothing written."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from livesegment.cli import main
from livesegment.errors import InputError, LivesegmentError, OutputError
from livesegment.io.live_source import SyntheticSource
from livesegment.io.video import VideoFileSink
from livesegment.pipeline import live
from livesegment.pipeline.headless import run_headless
from livesegment.pipeline.live import LivePipeline
from livesegment.pipeline.recorder import Recorder
from tests.conftest import fake_segmenter, make_clip

FAST = ["--device", "cpu", "--size", "64", "--quiet"]


def refuse_threads(count: int) -> None:
    raise RuntimeError(f"OpenMP refused {count} threads")


def test_stages_that_cannot_start_say_so_and_the_run_fails(monkeypatch):
    monkeypatch.setattr(live, "set_own_threads", refuse_threads)
    errors: list[str] = []
    seg = fake_segmenter()
    pipe = LivePipeline(seg, seg.default_style(), on_error=lambda m, _r: errors.append(m),
                        workers=2)
    pipe.set_source(SyntheticSource(64, 48, fps=30))
    try:
        with pytest.raises(LivesegmentError, match=r"no frame was composed in 0.[5-9] s before "
                                                   r"the time limit .*nothing was sent or "
                                                   "recorded"):
            run_headless(pipe, [lambda c: None], threading.Event(), threading.Event(), 0.5)
    finally:
        pipe.stop()
    assert sorted(errors) == ["a model worker could not start: OpenMP refused 1 threads"] * 2 \
        + ["the composer could not start: OpenMP refused 1 threads"]


def test_a_thread_that_cannot_start_stops_the_others(monkeypatch):
    started = []
    real_start = threading.Thread.start

    def start(self):
        if self.name.startswith("livesegment-") and len(started) == 1:
            raise RuntimeError("can't start new thread")
        started.append(self)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    seg = fake_segmenter()
    with pytest.raises(InputError, match=r"cannot start 2 model workers with \d+ threads each "
                                         r"\(can't start new thread\); ask for fewer"):
        LivePipeline(seg, seg.default_style(), workers=2)
    started[0].join(5)
    assert not started[0].is_alive()  # the one that started did not wait forever


def test_live_whose_workers_cannot_start_exits_2_and_writes_nothing(tmp_path, monkeypatch,
                                                                    capsys):
    monkeypatch.setattr(live, "set_own_threads", refuse_threads)
    clip, out = tmp_path / "clip.mp4", tmp_path / "rec.mp4"
    make_clip(clip, frames=20, rate=10)
    code = main(["live", "--source", str(clip), "-o", str(out), "--duration", "1", *FAST])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "could not start: OpenMP refused" in err
    assert not out.exists()


def test_a_recording_that_failed_on_the_way_is_not_finished_as_whole(tmp_path, monkeypatch):
    real_write = VideoFileSink.write

    def write(self, bgr, pts_s):
        if self.frames >= 2:  # the disk fills after two frames
            raise OutputError(f"cannot write video {self.path}: No space left on device")
        real_write(self, bgr, pts_s)

    monkeypatch.setattr(VideoFileSink, "write", write)
    out = tmp_path / "rec.mp4"
    recorder = Recorder(out, 64, 48)
    for i in range(5):
        recorder.add(np.zeros((48, 64, 3), np.uint8), i / 10)
    with pytest.raises(OutputError, match=f"cannot write video {out}: No space left on device"):
        recorder.stop()
    assert list(tmp_path.iterdir()) == []


def test_stats_on_a_full_disk_exit_2_naming_the_file(tmp_path, monkeypatch, capsys):
    from livesegment.io import class_stats

    monkeypatch.setattr(class_stats, "open", lambda *a, **k: open("/dev/full", "w"),
                        raising=False)
    clip, stats = tmp_path / "clip.mp4", tmp_path / "shares.csv"
    make_clip(clip, frames=3)
    code = main(["process", str(clip), "-o", str(tmp_path / "out.mp4"), "--stats", str(stats),
                 *FAST])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"livesegment: cannot write stats {stats}: No space left on device"]
    assert not stats.exists()
