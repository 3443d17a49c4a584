"""Live sources: cameras, video files played at their own pace, and a synthetic test pattern.

Each has ``read() -> Frame | None`` (``None`` at the end of a file) and ``close()``; a camera
that stops delivering raises :class:`SourceLost` so the caller can say so and offer a retry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from livesegment.core.frames import Frame
from livesegment.errors import InputError, SourceLost
from livesegment.io.video import VideoFileSource

CAMERA_FAILURES_BEFORE_LOST = 30  # consecutive empty reads (~1 s at 30 fps)


class LiveSource(Protocol):
    name: str
    fps: float  # the nominal rate frames arrive at (for sinks that must keep a pace)

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


class CameraSource:
    """An OpenCV camera with a one-frame driver buffer and MJPG where offered (less latency)."""

    def __init__(self, device: int | str, width: int | None = None, height: int | None = None,
                 capture: cv2.VideoCapture | None = None) -> None:
        self.name = f"camera {device}" if isinstance(device, int) else str(device)
        self._cap = capture if capture is not None else cv2.VideoCapture(device)
        if not self._cap.isOpened():
            self._cap.release()
            if isinstance(device, int):
                raise InputError(f"no camera at index {device} (is it plugged in and free?)")
            raise InputError(f"cannot open stream {device}")
        self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        if width and height:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self._index = 0
        self._start = time.monotonic()
        reported = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(reported) if 1 <= reported <= 240 else 30.0  # drivers may say 0

    def read(self) -> Frame:
        for _ in range(CAMERA_FAILURES_BEFORE_LOST):
            ok, bgr = self._cap.read()
            if ok and bgr is not None and bgr.size:
                now = time.monotonic()
                frame = Frame(self._index, now - self._start, bgr, now)
                self._index += 1
                return frame
            time.sleep(0.03)
        raise SourceLost(f"{self.name} stopped delivering frames (unplugged?)")

    def close(self) -> None:
        self._cap.release()


def probe_cameras(limit: int = 5) -> list[int]:
    """Indices of cameras that open; slow on some systems, so call it off the GUI thread.

    OpenCV warns on stderr for every index that is not there; those are expected here.
    """
    found = []
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        for index in range(limit):
            cap = cv2.VideoCapture(index)
            if cap.isOpened():
                found.append(index)
            cap.release()
    finally:
        cv2.utils.logging.setLogLevel(previous)
    return found


class PacedFileSource:
    """A video file delivered at its own timing, as a camera would, for the live view."""

    def __init__(self, path: Path) -> None:
        self.name = path.name
        self._video = VideoFileSource(path)
        self.fps = float(self._video.rate_hint)
        self._frames: Iterator[Frame] = self._video.frames()
        self._t0: float | None = None
        self._pts0 = 0.0

    def read(self) -> Frame | None:
        frame = next(self._frames, None)
        if frame is None:
            return None
        now = time.monotonic()
        if self._t0 is None:
            self._t0, self._pts0 = now, frame.pts_s
        due = self._t0 + (frame.pts_s - self._pts0)
        if due > now:
            time.sleep(due - now)
        return Frame(frame.index, frame.pts_s, frame.bgr, time.monotonic())

    def close(self) -> None:
        self._video.close()


class SyntheticSource:
    """Moving coloured shapes at a fixed rate: a camera stand-in for tests and benchmarks."""

    def __init__(self, width: int = 1280, height: int = 720, fps: float = 30.0,
                 frames: int | None = None) -> None:
        self.name = f"synthetic {width}x{height}@{fps:g}"
        self.width, self.height, self.fps, self.limit = width, height, fps, frames
        self._index = 0
        self._t0 = time.monotonic()
        base = np.zeros((height, width, 3), np.uint8)
        base[:, :, 0] = np.linspace(30, 200, width, dtype=np.uint8)[None, :]
        base[:, :, 1] = np.linspace(60, 160, height, dtype=np.uint8)[:, None]
        self._base = base

    def picture(self, index: int) -> np.ndarray:
        bgr = self._base.copy()
        side = max(2, min(self.height, self.width) // 3)
        x = (index * 7) % max(1, self.width - side)
        bgr[self.height // 4: self.height // 4 + side, x: x + side] = (0, 0, 255)
        return bgr

    def read(self) -> Frame | None:
        if self.limit is not None and self._index >= self.limit:
            return None
        due = self._t0 + self._index / self.fps
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        frame = Frame(self._index, self._index / self.fps, self.picture(self._index),
                      time.monotonic())
        self._index += 1
        return frame

    def close(self) -> None:
        pass


def open_live_source(spec: str, resolution: tuple[int, int] | None = None) -> LiveSource:
    """``"0"`` -> camera 0 (at ``resolution`` if given); a path -> the file at its own pace;
    a URL -> a stream via OpenCV."""
    if spec.isdigit():
        return CameraSource(int(spec), *(resolution or (None, None)))
    if "://" in spec:
        return CameraSource(spec)
    return PacedFileSource(Path(spec))
