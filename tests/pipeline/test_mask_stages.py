"""Smoothing and refinement inside the pipelines: frame-exact offline, past-only live."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from livesegment.core.frames import Composed, Frame
from livesegment.core.masks.smoothing import MaskOptions
from livesegment.io.live_source import SyntheticSource
from livesegment.pipeline.job import process_file
from livesegment.pipeline.live import LivePipeline
from livesegment.pipeline.offline import run_offline
from tests.conftest import fake_segmenter, make_clip, read_clip


class HoldBack:
    """A window that holds ``k`` results back, as a look-ahead smoother does."""

    def __init__(self, k: int) -> None:
        self.k, self.held = k, []

    def push(self, item):
        self.held.append(item)
        ready, self.held = self.held[:-self.k or None], self.held[-self.k:] if self.k else []
        return ready

    def flush(self):
        ready, self.held = self.held, []
        return ready


def _frames(n: int, delay_s: float = 0.0):
    for i in range(n):
        if delay_s:
            time.sleep(delay_s)
        yield Frame(i, i / 25, np.zeros((2, 2, 3), np.uint8))


def _compose(frame: Frame) -> Composed:
    return Composed(frame, frame.bgr, np.zeros((2, 2), np.uint8))


@pytest.mark.parametrize("k", [0, 1, 4, 8])
@pytest.mark.parametrize("n", [0, 1, 3, 30])
def test_a_held_back_window_still_writes_every_frame_in_order(n, k):
    written = []
    result = run_offline(_frames(n), [lambda f: f] * 2, _compose,
                         lambda c: written.append(c.frame.index), window=HoldBack(k))
    assert written == list(range(n)) and result.frames == n


def test_a_stopped_run_writes_the_held_back_frames_too():
    """Stopped midway: every frame whose inference ran is written, those the window held
    included, so the partial file ends where inference ended."""
    stop = threading.Event()
    inferred, written = [], []

    def infer(frame: Frame) -> Frame:
        inferred.append(frame.index)
        if frame.index == 10:
            stop.set()
        return frame

    result = run_offline(_frames(100, 0.002), infer, _compose,
                         lambda c: written.append(c.frame.index), stop, window=HoldBack(4))
    assert result.interrupted
    assert written == list(range(len(written))) and len(written) >= 11
    assert written == sorted(inferred)[:len(written)] and 10 in written


@pytest.mark.parametrize("options", [MaskOptions(0.0, False), MaskOptions(0.9, True),
                                     MaskOptions(0.5, False)])
def test_process_keeps_frame_count_and_timestamps_exact(tmp_path: Path, options):
    src, out = tmp_path / "in.mp4", tmp_path / "out.mp4"
    times = make_clip(src, frames=20, size=(64, 96),
                      times_s=[i * 0.04 for i in range(12)] + [0.6 + i * 0.1 for i in range(8)])
    report = process_file(src, out, fake_segmenter(), fake_segmenter().default_style(),
                          masks=tmp_path / "m", mask_options=options)
    got, pictures = read_clip(out)
    assert report.frames == 20 and len(pictures) == 20
    assert np.allclose(got, times, atol=1e-3)
    assert len(list((tmp_path / "m").iterdir())) == 20


def test_live_pipeline_applies_new_mask_options_between_frames():
    seg = fake_segmenter()
    pipe = LivePipeline(seg, seg.default_style(), masks=MaskOptions(0.0, False))
    pipe.set_source(SyntheticSource(96, 64, fps=60))
    try:
        deadline = time.monotonic() + 5
        while pipe.latest() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        first = pipe._smoother
        pipe.set_masks(MaskOptions(0.9, True))
        assert pipe._smoother is not first and pipe._smoother.strength == 0.9
        seen = pipe.latest().frame.index
        while pipe.latest().frame.index < seen + 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pipe.latest().frame.index >= seen + 3  # still running, now smoothed
        assert pipe._smoothed_for is pipe.segmenter
    finally:
        pipe.stop()
