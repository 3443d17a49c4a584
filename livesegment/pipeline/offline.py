"""Offline processing: every frame, in order, with decoding, inference and encoding overlapped.

reader thread ---> inference thread(s) ---> writer thread
(decode)           (preprocess + model)     (compose + encode, in frame order)

The reader hands each frame to the inference threads through a small work queue and, at the
same moment, puts the frame's pending result (a ``Future``) on the writer's queue, so the
writer sees results in frame order however many inference threads finish them.

Why more than one inference thread: on a CPU the network alone does not use the cores well
(ESPNetv2 on 2 cores: 2 threads run one frame only 1.2x faster than 1 thread). Two frames in
flight at once gave 1.35x the model's throughput there (BENCHMARKS.md). Composing (upsampling,
argmax, blending) runs on the writer thread, overlapping the model's work.

Full queues block the stage before them (back-pressure): nothing is dropped and memory stays
bounded. Setting ``stop`` ends the run early: frames whose inference already started are still
written, in order, so the writer can finalise a playable file; the rest are cancelled.

A ``window`` (temporal smoothing that looks ahead) sits between the in-order results and
``compose``: it may hold a few results back until it has seen their future, and at the end of
the run, stopped early or not, it hands over what it still holds, so every inferred frame is
written exactly once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from livesegment.core.frames import Composed, Frame
from livesegment.pipeline.stats import StageTimes
from livesegment.pipeline.thread_setup import meet, set_own_threads

_END = object()
POLL_S = 0.1
# Torch threads of the writer: composing is many small ops beside two busy model threads, and
# OpenMP's idle spinning on a second thread cost 4-5x the CPU time of the work itself there
# (2 cores: smoothing + refinement 22 -> 109 ms of CPU a 720p frame; BENCHMARKS.md).
COMPOSE_THREADS = 1

Infer = Callable[[Frame], Any]


class ResultWindow(Protocol):
    """An in-order stage that may hold results back (TemporalSmoother with look-ahead)."""

    def push(self, result: Any) -> list[Any]: ...

    def flush(self) -> list[Any]: ...


@dataclass
class OfflineResult:
    frames: int
    interrupted: bool
    elapsed_s: float
    stages: StageTimes = field(default_factory=StageTimes)


class _Worker(threading.Thread):
    """A thread that keeps the first exception it hits, for the owner to re-raise."""

    def __init__(self, name: str, body: Callable[[], None]) -> None:
        super().__init__(name=name, daemon=False)
        self._body = body
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._body()
        except BaseException as exc:  # noqa: BLE001 - handed to the owner thread
            self.error = exc


def _put(q: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Blocks until there is room; gives up (False) once ``stop`` is set."""
    while True:
        try:
            q.put(item, timeout=POLL_S)
            return True
        except queue.Full:
            if stop.is_set():
                return False


def _get(q: queue.Queue, stop: threading.Event, producer: threading.Thread) -> object:
    """The next item, or ``_END`` once stopped with nothing left that could still arrive."""
    while True:
        try:
            return q.get(timeout=POLL_S)
        except queue.Empty:
            if stop.is_set() and not producer.is_alive():
                return _END


def run_offline(frames: Iterable[Frame], infer: Infer | Sequence[Infer],
                compose: Callable[[Any], Composed], write: Callable[[Composed], None],
                stop: threading.Event | None = None,
                on_frame: Callable[[Composed], None] | None = None,
                depth: int = 4, window: ResultWindow | None = None) -> OfflineResult:
    """Runs ``infer`` on every frame; ``compose`` then ``write`` run in frame order on the
    writer thread, and ``on_frame`` after each frame is written.

    ``infer`` is one callable, or one per inference thread (each thread owns its callable, so a
    callable need not be thread-safe). At most ``depth`` frames wait between the stages.
    Exceptions from any stage propagate to the caller after every thread has ended.
    """
    infers = [infer] if callable(infer) else list(infer)
    if not infers:
        raise ValueError("run_offline needs at least one inference callable")
    stop = stop or threading.Event()
    work: queue.Queue = queue.Queue(maxsize=len(infers))
    pending: queue.Queue = queue.Queue(maxsize=depth)
    stages = StageTimes()
    model_threads = torch.get_num_threads()
    threads_set = threading.Barrier(len(infers) + 2)  # model threads, writer, this one
    written = 0
    start = time.perf_counter()

    def read() -> None:
        it = iter(frames)
        try:
            while not stop.is_set():
                t0 = time.perf_counter()
                frame = next(it, _END)
                if frame is _END:
                    break
                stages.add("decode", time.perf_counter() - t0)
                result: Future = Future()
                if not _put(pending, result, stop):
                    break
                if not _put(work, (frame, result), stop):
                    result.cancel()
                    break
        finally:
            for _ in infers:
                _put(work, _END, stop)
            _put(pending, _END, stop)

    def run_model(fn: Infer) -> Callable[[], None]:
        def body() -> None:
            set_own_threads(model_threads)
            meet(threads_set)
            while (item := _get(work, stop, reader)) is not _END:
                frame, result = item
                if stop.is_set() or not result.set_running_or_notify_cancel():
                    result.cancel()
                    continue
                try:
                    result.set_result(fn(frame))
                except BaseException as exc:  # noqa: BLE001 - re-raised by the writer
                    result.set_exception(exc)
        return body

    def emit(inferred: Any) -> None:
        nonlocal written
        composed = compose(inferred)
        t0 = time.perf_counter()
        write(composed)
        stages.add("encode", time.perf_counter() - t0)
        for name, seconds in composed.timings.items():
            stages.add(name, seconds)
        written += 1
        if on_frame is not None:
            on_frame(composed)

    def drain() -> None:
        set_own_threads(COMPOSE_THREADS)
        meet(threads_set)
        while (result := _get(pending, stop, reader)) is not _END:
            try:
                inferred = result.result()
            except CancelledError:
                break
            for ready in (window.push(inferred) if window else (inferred,)):
                emit(ready)
        for ready in (window.flush() if window else ()):
            emit(ready)

    reader = _Worker("livesegment-reader", read)
    models = [_Worker(f"livesegment-infer-{i}", run_model(fn)) for i, fn in enumerate(infers)]
    writer = _Worker("livesegment-writer", drain)
    threads = [reader, *models, writer]
    for thread in threads:
        thread.start()
    meet(threads_set)
    torch.set_num_threads(model_threads)  # each stage keeps its own; the process its count
    interrupted = False
    try:
        while writer.is_alive():
            writer.join(POLL_S)
            if writer.error is not None:
                stop.set()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        interrupted = interrupted or stop.is_set()  # an outside stop (Cancel, SIGTERM) counts
        stop.set()
        for thread in threads:
            thread.join()
    for thread in (writer, reader):
        if thread.error is not None:
            raise thread.error
    return OfflineResult(written, interrupted, time.perf_counter() - start, stages)
