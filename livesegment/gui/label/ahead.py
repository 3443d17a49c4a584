"""Pictures prepared for the selector before the user gets to them.

Why: the selector's per-picture work (the model's labels, ``Selector.prepare``) takes
seconds at 720p on a laptop CPU, and done when the user shows a picture it makes the first
click on every picture wait. So while the user clicks on one picture, the next one (in the
direction they step) is prepared here, on a thread of its own, and stepping to it finds it
ready.

Why a thread of its own rather than the sitting's worker: a preparation cannot be cut short,
so on the worker a click arriving during one would wait up to seconds behind it. Here the
click's answer runs on the worker at the same time; the selector's ``predict`` does not use
the model, and preparations take turns on it (the selector's lock). The thread runs at a
lower CPU priority (Linux's per-thread nice), so on two cores the click's work goes first.

No Qt here: plain threads, so the sitting's worker can wait for a picture in flight.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from livesegment.pipeline.thread_setup import lower_priority

NICE = 10  # the preparing thread's CPU priority below the window's (0: the same)
KEPT = 3  # prepared pictures kept: the previous, the current and the next


@dataclass(frozen=True, eq=False)
class Ready:
    """A picture and what the selector prepared from it."""

    bgr: np.ndarray
    prepared: Any  # the selector's own value (``livesegment.core.select.Prepared``)


Prepare = Callable[[np.ndarray], Any]


class PreparedPictures:
    """The last KEPT pictures prepared (by the worker or ahead of time), and one thread that
    prepares the picture asked for with :meth:`ahead` (the newest wish wins; one not started
    yet is dropped for it). ``read(key)``: the picture, BGR."""

    def __init__(self, read: Callable[[str], np.ndarray], kept: int = KEPT,
                 nice: int | None = None) -> None:
        self._read, self._kept = read, kept
        self._nice = NICE if nice is None else nice
        self._ready: OrderedDict[str, Ready] = OrderedDict()
        self._wish: tuple[str, Prepare] | None = None
        self._running: str | None = None
        self._closed = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def get(self, key: str) -> Ready | None:
        """``key``'s picture if it is prepared, at once (None if not)."""
        with self._changed:
            return self._ready.get(key)

    def preparing(self, key: str | None = None) -> bool:
        """Whether a preparation ahead runs now (of ``key``, when given)."""
        with self._changed:
            return self._running is not None and key in (None, self._running)

    def take(self, key: str) -> Ready | None:
        """``key``'s picture if it is prepared; one being prepared ahead is waited for (a
        second preparation beside it would only halve the speed of both)."""
        with self._changed:
            if self._wish is not None and self._wish[0] == key:
                self._wish = None  # not started: the caller prepares it now instead
            self._changed.wait_for(lambda: self._running != key or self._closed)
            found = self._ready.get(key)
            if found is not None:
                self._ready.move_to_end(key)
            return found

    def put(self, key: str, ready: Ready) -> None:
        """Keeps a picture prepared elsewhere (the worker's own, when none was ready)."""
        with self._changed:
            self._keep(key, ready)

    def ahead(self, key: str, prepare: Prepare) -> None:
        """Prepares ``key`` in the background with ``prepare`` unless it is ready or under
        way; an earlier wish not started yet is dropped either way. Returns at once."""
        with self._changed:
            if self._closed or key in self._ready or key == self._running:
                self._wish = None
                return
            self._wish = (key, prepare)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, daemon=True,
                                                name="livesegment-prepare-ahead")
                self._thread.start()
            self._changed.notify_all()

    def idle(self) -> bool:
        """Nothing asked for and nothing running (what tests and benchmarks wait for)."""
        with self._changed:
            return self._wish is None and self._running is None

    def close(self, timeout_s: float = 5.0) -> None:
        with self._changed:
            self._closed, self._wish = True, None
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _keep(self, key: str, ready: Ready) -> None:
        self._ready[key] = ready
        self._ready.move_to_end(key)
        while len(self._ready) > self._kept:
            self._ready.popitem(last=False)

    def _work(self) -> None:
        lower_priority(self._nice)
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._wish is not None or self._closed)
                if self._closed:
                    return
                (key, prepare), self._wish = self._wish, None
                self._running = key
            ready = None
            try:
                bgr = self._read(key)
                ready = Ready(bgr, prepare(bgr))
            except Exception:  # noqa: BLE001 - the worker prepares it again when shown, and
                pass  # says why there if it fails again
            with self._changed:
                if ready is not None:
                    self._keep(key, ready)
                self._running = None
                self._changed.notify_all()

