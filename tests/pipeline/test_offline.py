"""The offline pipeline with fake stages: order, back-pressure, stop, errors."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from livesegment.core.frames import Composed, Frame
from livesegment.pipeline.offline import run_offline


def _frames(n: int, delay_s: float = 0.0):
    for i in range(n):
        if delay_s:
            time.sleep(delay_s)
        yield Frame(i, i / 25, np.zeros((2, 2, 3), np.uint8))


def _process(frame: Frame) -> Composed:
    return Composed(frame, frame.bgr, np.zeros(frame.bgr.shape[:2], np.uint8), {"infer": 0.0})


def _same(composed: Composed) -> Composed:
    return composed


@pytest.mark.parametrize("streams", [1, 2, 3])
@pytest.mark.parametrize("n", [0, 1, 7, 200])
def test_every_frame_in_order(n, streams):
    written = []
    result = run_offline(_frames(n), [_process] * streams, _same,
                         lambda c: written.append(c.frame.index))
    assert written == list(range(n)) and result.frames == n and not result.interrupted


@pytest.mark.parametrize("streams", [2, 3])
def test_parallel_inference_keeps_order_and_thread_ownership(streams):
    """Frames finish out of order (uneven model times); the writer still gets them in order,
    and each inference callable only ever runs on one thread (a Segmenter is not thread-safe)."""
    owners: dict[int, set[int]] = {}
    lock = threading.Lock()

    def make(k: int):
        def process(frame: Frame) -> Composed:
            with lock:
                owners.setdefault(k, set()).add(threading.get_ident())
            time.sleep(0.012 if frame.index % 3 == 0 else 0.001)
            return _process(frame)
        return process

    written = []
    run_offline(_frames(90), [make(k) for k in range(streams)], _same,
                lambda c: written.append(c.frame.index))
    assert written == list(range(90))
    assert len(owners) == streams  # every stream took part
    assert all(len(threads) == 1 for threads in owners.values())
    assert len(set().union(*owners.values())) == streams


def test_two_streams_overlap_in_time():
    """Two frames are in the model at once: 40 frames of 20 ms take well under 40 x 20 ms."""
    active = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def process(frame: Frame) -> Composed:
        with lock:
            active["now"] += 1
            active["peak"] = max(active["peak"], active["now"])
        time.sleep(0.02)
        with lock:
            active["now"] -= 1
        return _process(frame)

    run_offline(_frames(40), [process, process], _same, lambda c: None)
    assert active["peak"] == 2


def test_slow_writer_applies_back_pressure_not_drops():
    peak = {"ahead": 0}
    processed = []

    def process(frame):
        processed.append(frame.index)
        return _process(frame)

    written = []

    def write(c):
        time.sleep(0.005)
        written.append(c.frame.index)
        peak["ahead"] = max(peak["ahead"], len(processed) - len(written))

    run_offline(_frames(60), process, _same, write, depth=3)
    assert written == list(range(60))
    assert peak["ahead"] <= 3 + 2  # queue depth plus the items in hand


@pytest.mark.parametrize("streams", [1, 2])
def test_stop_midway_writes_what_was_processed(streams):
    stop = threading.Event()
    written = []

    def process(frame):
        if frame.index == 20:
            stop.set()
        return _process(frame)

    result = run_offline(_frames(1000), [process] * streams, _same,
                         lambda c: written.append(c.frame.index), stop)
    assert result.interrupted
    assert written == list(range(len(written))) and 20 <= len(written) <= 22
    assert not [t for t in threading.enumerate() if t.name.startswith("livesegment-")]


@pytest.mark.parametrize("streams", [1, 2])
@pytest.mark.parametrize("where", ["read", "process", "write"])
def test_errors_reach_the_caller_and_threads_end(where, streams):
    def frames():
        for f in _frames(50):
            if where == "read" and f.index == 5:
                raise OSError("disk gone")
            yield f

    def process(f):
        if where == "process" and f.index == 5:
            raise OSError("disk gone")
        return _process(f)

    def write(c):
        if where == "write" and c.frame.index == 5:
            raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        run_offline(frames(), [process] * streams, _same, write)
    time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name.startswith("livesegment-")]


def test_no_inference_callable_is_refused_not_a_hang():
    with pytest.raises(ValueError, match="at least one"):
        run_offline(_frames(3), [], _same, lambda c: None)
