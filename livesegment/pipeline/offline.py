"""Offline processing: every frame, in order, with decoding, inference and encoding overlapped.

reader thread --bounded queue--> inference (calling thread) --bounded queue--> writer thread
(decode)                         (preprocess + model)                      (compose + encode)

Composing (upsampling, argmax, blending) runs on the writer thread, so it overlaps the model's
work on the next frame instead of adding to it.

Full queues block the stage before them (back-pressure), so nothing is dropped and memory stays
bounded. Setting ``stop`` ends the run early: frames already processed are still written, so
the writer can finalise a playable file.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from livesegment.core.frames import Composed, Frame
from livesegment.pipeline.stats import StageTimes

_END = object()
POLL_S = 0.1


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


def _put(q: queue.Queue, item: object, stop: threading.Event, force: bool = False) -> bool:
    """Blocks until there is room; gives up when stopped unless ``force`` (end markers)."""
    while True:
        try:
            q.put(item, timeout=POLL_S)
            return True
        except queue.Full:
            if stop.is_set() and not force:
                return False


def run_offline(frames: Iterable[Frame], infer: Callable[[Frame], Any],
                compose: Callable[[Any], Composed], write: Callable[[Composed], None],
                stop: threading.Event | None = None,
                on_frame: Callable[[Composed], None] | None = None,
                depth: int = 4) -> OfflineResult:
    """Runs ``infer`` on every frame in the calling thread; ``compose`` then ``write`` run in
    order on the writer thread, and ``on_frame`` after each frame is written. Exceptions from
    any stage propagate to the caller after the threads are joined."""
    stop = stop or threading.Event()
    inbox: queue.Queue = queue.Queue(maxsize=depth)
    outbox: queue.Queue = queue.Queue(maxsize=depth)
    stages = StageTimes()
    written = 0
    start = time.perf_counter()

    def read() -> None:
        try:
            it = iter(frames)
            while not stop.is_set():
                t0 = time.perf_counter()
                frame = next(it, _END)
                if frame is _END:
                    break
                stages.add("decode", time.perf_counter() - t0)
                if not _put(inbox, frame, stop):
                    break
        finally:
            _put(inbox, _END, stop, force=True)

    def drain() -> None:
        nonlocal written
        while True:
            item = outbox.get()
            if item is _END:
                return
            composed = compose(item)
            t0 = time.perf_counter()
            write(composed)
            stages.add("encode", time.perf_counter() - t0)
            for name, seconds in composed.timings.items():
                stages.add(name, seconds)
            written += 1
            if on_frame is not None:
                on_frame(composed)

    reader, writer = _Worker("livesegment-reader", read), _Worker("livesegment-writer", drain)
    reader.start()
    writer.start()
    interrupted = False
    try:
        while not stop.is_set() and writer.error is None:
            try:
                frame = inbox.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if frame is _END:
                break
            if not _put(outbox, infer(frame), stop) or writer.error is not None:
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        interrupted = interrupted or stop.is_set()  # an outside stop (Cancel, SIGTERM) counts
        stop.set()
        _drain_queue(inbox)
        _put(outbox, _END, threading.Event(), force=True)
        reader.join()
        writer.join()
    for worker in (writer, reader):
        if worker.error is not None:
            raise worker.error
    return OfflineResult(written, interrupted, time.perf_counter() - start, stages)


def _drain_queue(q: queue.Queue) -> None:
    """Empties a queue so a producer blocked on it can see the stop flag and finish."""
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return
