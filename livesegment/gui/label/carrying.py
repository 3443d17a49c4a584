"""Carrying accepted labels through a video, in the background, for the labelling window.

The work is the pipeline's (pipeline/labelling.py: it saves each carried frame in the store
and stops at frames a person accepted); this part brings its reports onto the GUI thread
and keeps one run at a time: an accept while a run goes on cancels it and starts again from
the newer frame once it has stopped, so the latest correction is the seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PyQt6.QtCore import QObject, pyqtSignal

from livesegment.errors import describe
from livesegment.io.datasets.labelstore import LabelStore
from livesegment.pipeline.background import BackgroundRun
from livesegment.pipeline.labelling import CarriedFrame, start_carrying


class Carrier(QObject):
    """``frame(CarriedFrame, started)`` for each frame carried (``started``: when its run
    began, to tell a stale report from a newer accept), ``ended(text)`` when a run ends
    (its summary, or why it failed)."""

    frame = pyqtSignal(object, float)
    ended = pyqtSignal(str, bool)  # text, failed
    _finished = pyqtSignal(object)  # from the run's thread: queued onto the GUI thread

    def __init__(self, parent: QObject | None = None,
                 start: Callable[..., BackgroundRun] = start_carrying) -> None:
        super().__init__(parent)
        self._start = start
        self.run: BackgroundRun | None = None
        self._next: tuple[LabelStore, str] | None = None
        self._finished.connect(self._done)

    @property
    def running(self) -> bool:
        return self.run is not None and not self.run.done

    def carry_from(self, store: LabelStore, key: str) -> None:
        """Carries ``key``'s labels through the video; a run going on is cancelled first."""
        if self.running:
            self._next = (store, key)
            self.run.cancel()  # type: ignore[union-attr]
            return
        started = time.monotonic()

        def on_frame(carried: CarriedFrame) -> None:
            self.frame.emit(carried, started)

        self.run = self._start(store, key, on_frame=on_frame, on_done=self._finished.emit)

    def cancel(self, wait_s: float = 0.0) -> None:
        self._next = None
        if self.run is not None:
            self.run.cancel()
            if wait_s:
                self.run.wait(wait_s)

    def _done(self, run: BackgroundRun) -> None:
        """On the GUI thread: the run's summary, then the accept that waited for it."""
        if run.error is not None:
            self.ended.emit(f"carrying stopped: {describe(run.error)}", True)
        else:
            result = run.result()
            looks = len(result.needs_look)
            self.ended.emit(f"Carried to {len(result.frames)} frames"
                            + (f", {looks} to look at (N)" if looks else "")
                            + (" (stopped)" if result.stopped else ""), False)
        if self._next is not None:
            store, key = self._next
            self._next = None
            self.carry_from(store, key)

