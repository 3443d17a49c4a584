"""Live mode with several model workers, a composer stage, camera pace and "auto" size: fake
models that sleep (they release the GIL as a real model's kernels do) and synthetic cameras."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
import torch

from livesegment.core.compose.effects import Effect
from livesegment.core.segmenter import Segmenter
from livesegment.io.live_source import SyntheticSource
from livesegment.pipeline.live import LivePipeline
from livesegment.pipeline.thread_setup import WORKER_NICE
from livesegment.pipeline.pace import AutoSize, auto_sizes, live_workers
from livesegment.pipeline.slots import InOrderSlot
from tests.conftest import PERSON, RedIsPerson, fake_segmenter


def _wait_for(pipe: LivePipeline, count: int = 1, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while pipe.display_rate.rate() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)


def _shown_for(pipe: LivePipeline, seconds: float) -> list:
    shown, seen = [], set()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        c = pipe.take_latest()
        if c is not None and id(c) not in seen:
            seen.add(id(c))
            shown.append(c)
        time.sleep(1 / 200)
    return shown


def test_in_order_slot_refuses_results_older_than_the_newest():
    slot: InOrderSlot[float] = InOrderSlot(key=lambda t: t)
    kept = [slot.put(t) for t in (1.0, 3.0, 2.0, 3.0, 5.0, 4.0)]
    assert kept == [True, True, False, False, True, False]
    assert slot.late == 3 and slot.take(0) == 5.0 and slot.dropped == 2  # 1 and 3 replaced


@pytest.mark.parametrize("device, cpus, backend, workers", [
    ("cpu", 2, "torch", 2), ("cpu", 16, "torch", 2), ("cpu", 1, "torch", 1),
    ("cuda", 16, "torch", 1), ("cuda", 2, "torch", 1), ("cpu", 2, "onnxruntime", 1)])
def test_live_workers(device, cpus, backend, workers):
    assert live_workers(device, cpus, backend) == workers


def test_auto_sizes_follow_the_models_multiple():
    assert auto_sizes(32, 128) == (128, 160, 192, 224, 256, 320, 384, 448, 512)
    assert auto_sizes(64, 128) == (128, 192, 256, 320, 384, 448, 512)
    assert auto_sizes(16, 192) == (192, 224, 256, 320, 384, 448, 512)


SIZES = (128, 160, 192, 224, 256, 320)


@pytest.mark.parametrize("size, rate, capacity, camera, retry, expected", [
    (256, 20.0, 20.0, 30.0, {}, 224),          # too slow: one step down
    (128, 20.0, 20.0, 30.0, {}, None),         # too slow but nothing smaller
    (192, 29.0, 40.0, 30.0, {}, None),         # keeps up; 224 could do ~29 fps: stay
    (192, 30.0, 50.0, 30.0, {}, 224),          # 224 could do ~37 fps: step up
    (192, 30.0, 50.0, 30.0, {224: 120.0}, None),  # 224 was too slow: not before 120 s
    (192, 30.0, 50.0, 30.0, {224: 100.0}, 224),   # ... its time has come
    (320, 30.0, 90.0, 30.0, {}, None),         # the largest size
    (256, 27.0, 27.0, 30.0, {}, None),         # exactly 0.9x the camera keeps up
    (160, 15.0, 40.0, 15.0, {}, 192),          # a 15 fps camera needs less
])
def test_auto_size_decisions(size, rate, capacity, camera, retry, expected):
    auto = AutoSize(SIZES)
    auto._too_slow.update(retry)
    assert auto.decide(size, rate, capacity, camera, now=100.0) == expected


def test_a_size_that_fails_again_waits_twice_as_long():
    auto = AutoSize(SIZES, retry_after_s=30.0)
    assert auto.decide(224, 20.0, 21.0, 30.0, now=0.0) == 192
    assert auto.decide(192, 30.0, 50.0, 30.0, now=29.0) is None
    assert auto.decide(192, 30.0, 50.0, 30.0, now=30.0) == 224
    assert auto.decide(224, 20.0, 21.0, 30.0, now=33.0) == 192
    assert auto.decide(192, 30.0, 50.0, 30.0, now=92.0) is None  # 33 + 60
    assert auto.decide(192, 30.0, 50.0, 30.0, now=93.0) == 224


def test_auto_size_measures_a_size_for_settle_s_before_judging():
    auto = AutoSize(SIZES, settle_s=1.0)
    stamps = [i / 20 for i in range(20)]  # 20 results a second at 256, 50 ms each
    assert all(auto.observe(256, t, 30.0, 0.05) is None for t in stamps)
    assert auto.observe(256, 1.0, 30.0, 0.05) == 224
    assert auto.observe(224, 1.1, 30.0, 0.04) is None  # a new size starts a new measurement


def test_two_workers_double_a_slow_models_rate_and_show_frames_in_capture_order():
    """A 60 ms model: one worker tops out near 16 fps; two keep two frames in flight."""
    rates = {}
    for workers in (1, 2):
        seg = fake_segmenter(delay_s=0.06)
        pipe = LivePipeline(seg, seg.default_style(), workers=workers)
        pipe.set_source(SyntheticSource(96, 64, fps=100))
        _wait_for(pipe)
        time.sleep(0.5)
        shown = _shown_for(pipe, 2.0)
        rates[workers] = pipe.stats().inference_fps
        late, dropped = pipe.inferences.late, pipe.stats().dropped
        pipe.stop()
        indices = [c.frame.index for c in shown]
        assert indices == sorted(set(indices))  # never back in time, never twice
        assert dropped > 0  # a 100 fps camera: the newest frame wins
    assert rates[2] >= 1.6 * rates[1], rates
    assert late >= 0


class ThreadSpy(Effect):
    """An effect that records which thread composed each frame, with its torch threads."""

    def __init__(self) -> None:
        self.threads: set[tuple[str, int]] = set()

    def apply(self, bgr: np.ndarray, labels: np.ndarray, pts_s: float) -> np.ndarray:
        self.threads.add((threading.current_thread().name, torch.get_num_threads()))
        return bgr

    def classes(self):
        return frozenset()


class ThreadsSeen(RedIsPerson):
    """Records the torch thread count, the nice value and the thread of each forward pass."""

    def __init__(self) -> None:
        super().__init__(delay_s=0.01)
        self.seen: set[tuple[str, int, int]] = set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        self.seen.add((threading.current_thread().name, torch.get_num_threads(), nice))
        return super().forward(x)


def test_workers_only_run_the_model_and_the_composer_composes():
    base = fake_segmenter()
    model = ThreadsSeen().eval()
    seg = Segmenter(base.spec, model, base.device, base.size)
    spy = ThreadSpy()
    before = torch.get_num_threads()
    pipe = LivePipeline(seg, spy, workers=2, threads=1)
    try:
        pipe.set_source(SyntheticSource(96, 64, fps=100))
        _wait_for(pipe)
        time.sleep(0.5)
    finally:
        pipe.stop()
    after = []
    later = threading.Thread(target=lambda: after.append(torch.get_num_threads()))
    later.start()
    later.join()
    assert torch.get_num_threads() == before and after == [before]  # nothing else changed
    assert spy.threads == {("livesegment-compose", 1)}  # the workers' share of the cores
    assert {name for name, _, _ in model.seen} == {"livesegment-infer-0", "livesegment-infer-1"}
    assert {n for _, n, _ in model.seen} == {1}
    # the workers yield to the composer and the window; the process keeps its priority
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert {nice for _, _, nice in model.seen} == {min(19, own + WORKER_NICE)}


def test_camera_pace_paints_every_camera_frame_with_the_newest_mask():
    """A 10 fps model under a 50 fps camera: the display keeps the camera's pace; each shown
    frame is the camera's own picture, painted with a mask from an older frame."""
    seg = fake_segmenter(delay_s=0.1)
    pipe = LivePipeline(seg, seg.default_style(opacity=1.0), workers=1, pace="camera")
    source = SyntheticSource(120, 90, fps=50)
    pipe.set_source(source)
    _wait_for(pipe)
    time.sleep(0.5)
    shown = _shown_for(pipe, 2.0)
    stats = pipe.stats()
    pipe.stop()
    assert stats.pace == "camera"
    assert stats.display_fps >= 0.8 * stats.capture_fps and stats.inference_fps < 12
    assert len(shown) >= 0.6 * 2.0 * 50  # polled at 200 Hz: most camera frames seen
    assert [c.frame.index for c in shown] == sorted({c.frame.index for c in shown})
    ages = [c.mask_age_s for c in shown]
    assert min(ages) >= 0 and max(ages) > 0.08  # masks a model period old, never from ahead
    frame = shown[-1]
    own = source.picture(frame.frame.index)
    background = frame.labels != PERSON
    assert np.array_equal(frame.image[background], own[background])  # the newest picture
    assert (frame.labels == PERSON).any()


class PixelCost(RedIsPerson):
    """Sleeps in proportion to the input's pixels, as a real network's cost grows."""

    def __init__(self, seconds_per_pixel: float) -> None:
        super().__init__()
        self.seconds_per_pixel = seconds_per_pixel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(x.shape[2] * x.shape[3] * self.seconds_per_pixel)
        return super().forward(x)


def test_auto_size_settles_on_the_largest_size_that_keeps_up():
    """Cost scaled so that one worker's model takes 45 ms at 256, 35 ms at 224 and 25 ms at
    192: under a 30 fps camera 256 and 224 fall short, 192 keeps up, and 224's predicted
    capacity from 192 (40 fps x (192/224)^2 = 29) is short of the camera: it stays."""
    base = fake_segmenter(size=256)
    # 320x240 frames at size 192: a 256x192 input
    per_pixel = 0.025 / (256 * 192)
    seg = Segmenter(base.spec, PixelCost(per_pixel).eval(), base.device, 256)
    notices: list[str] = []
    pipe = LivePipeline(seg, seg.default_style(), on_notice=notices.append, workers=1,
                        auto_size=True)
    pipe._auto = AutoSize(pipe._auto.sizes, settle_s=0.6)
    pipe.set_source(SyntheticSource(320, 240, fps=30))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not (
            pipe.segmenter.size == 192 and len(notices) >= 2):
        time.sleep(0.05)
    time.sleep(2.0)  # it stays there
    size, stats = pipe.segmenter.size, pipe.stats()
    pipe.stop()
    assert size == 192, notices
    assert notices[:2] == [n for n in notices[:2] if n.startswith("auto size: ")]
    assert "256 -> 224" in notices[0] and "224 -> 192" in notices[1]
    assert stats.auto_size


def test_a_stage_that_never_arrives_does_not_hang_the_start():
    from livesegment.pipeline.thread_setup import meet

    barrier = threading.Barrier(2)
    start = time.monotonic()
    meet(barrier, timeout_s=0.2)  # nobody else comes
    assert 0.15 < time.monotonic() - start < 2 and barrier.broken
