"""A camera recorded without a window: the live source behind a file reader's interface, so
``process`` runs it through the same offline pipeline as a file (every frame kept, in order).

Frames are timed by the clock from the first one, so the output plays at the camera's real
pace whatever its nominal rate; it ends with ``--duration`` or Ctrl-C. A camera that stops
delivering (unplugged) ends the recording too, keeping what was recorded, marked truncated.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import cv2

from livesegment.core.frames import Frame
from livesegment.errors import InputError, SourceLost
from livesegment.io.live_source import open_live_source

CAMERA_TIME_BASE = Fraction(1, 1000)
CAMERA_RATE_HINT = Fraction(30)  # nominal only; each frame's own time is what counts


class CameraReader:
    """A camera index opened as a live source; the first frame is read at once for the size."""

    duration_s = 0.0  # unknown: a camera runs until stopped
    has_audio = False
    time_base = CAMERA_TIME_BASE
    rate_hint = CAMERA_RATE_HINT
    lost_frames = null_frames = 0

    def __init__(self, index: str) -> None:
        self.path = index
        previous = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # we say it in one line
        try:
            self._source = open_live_source(index)
        finally:
            cv2.utils.logging.setLogLevel(previous)
        first = self._source.read()
        if first is None:
            self._source.close()
            raise InputError(f"camera {index} delivered no picture")
        self._first = first
        self.truncated = False  # the camera stopped delivering before we stopped it
        self.height, self.width = first.bgr.shape[:2]

    def frames(self) -> Iterator[Frame]:
        start = self._first.pts_s
        frame: Frame | None = self._first
        index = 0
        while frame is not None:
            yield Frame(index, frame.pts_s - start, frame.bgr, frame.captured_at)
            index += 1
            try:
                frame = self._source.read()
            except SourceLost:
                self.truncated = True
                return

    def close(self) -> None:
        self._source.close()
