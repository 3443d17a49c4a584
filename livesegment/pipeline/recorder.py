"""Recording the composed live picture to MP4 without slowing the window down."""

from __future__ import annotations

import queue
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np

from livesegment.io.video import VideoFileSink

RECORD_TIME_BASE = Fraction(1, 1000)


class Recorder:
    """Encodes on its own thread; ``add`` never blocks (a full queue drops and counts).

    Frames are stamped with their capture clock, so the file plays at the speed it was seen.
    """

    def __init__(self, path: Path, width: int, height: int, depth: int = 16) -> None:
        self.path = path
        self._sink = VideoFileSink(path, width, height, RECORD_TIME_BASE, Fraction(30))
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._t0: float | None = None
        self.size = (width, height)
        self.dropped = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="livesegment-recorder")
        self._thread.start()

    def add(self, image: np.ndarray, captured_at: float) -> None:
        if image.shape[1::-1] != self.size:
            return  # the source changed size mid-recording: keep the file consistent
        if image.shape[2] == 4:  # the alpha effect: an MP4 keeps the colours only
            image = np.ascontiguousarray(image[..., :3])
        if self._t0 is None:
            self._t0 = captured_at
        try:
            self._queue.put_nowait((image, captured_at - self._t0))
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self.error is None:
                try:
                    self._sink.write(*item)
                except Exception as exc:  # noqa: BLE001 - reported when recording stops
                    self.error = exc

    def stop(self) -> Path:
        """Finishes the file (renamed into place) and returns its path; a write that failed
        on the way (a full disk) discards it and raises, naming the file, rather than
        finishing a recording that stops short as if it were whole."""
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            self._sink.abort()
            raise self.error
        if self._sink.frames == 0:
            self._sink.abort()
            raise RuntimeError("nothing was recorded")
        return self._sink.finish()
