"""Background pictures for the replace effect: a still, a looping video, or a plain colour.

The effect asks for "the background at time t, at this size"; this module reads the files.
A video background plays at its own speed whatever the frame rate of the foreground (each
frame shows the background picture due at that frame's timestamp) and starts again at its end.
"""

from __future__ import annotations

import threading
from pathlib import Path

import av
import numpy as np

from livesegment.core.budget import MAX_FRAME_PIXELS, check_picture_size
from livesegment.core.compose.effects import Backdrop, StillBackdrop, cover, parse_colour, solid
from livesegment.errors import InputError, av_reason
from livesegment.io.images import IMAGE_SUFFIXES, read_image
from livesegment.io.paths import check_input
from livesegment.io.video import VIDEO_SUFFIXES


def open_backdrop(spec: str | Path) -> Backdrop:
    """``#RRGGBB``, a picture file or a video file -> a :class:`Backdrop`."""
    text = str(spec)
    if text.startswith("#"):
        return solid(parse_colour(text))
    path = Path(text)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES | VIDEO_SUFFIXES | {".gif"}:
        raise InputError(f"background {path} is neither a picture, a video nor a #RRGGBB "
                         "colour")
    if not path.exists():
        raise InputError(f"background not found: {path}")
    check_input(path)
    if suffix in IMAGE_SUFFIXES:
        return StillBackdrop(read_image(path, "background"))
    return VideoBackdrop(path)


class VideoBackdrop:
    """A video file as a background, looped, advanced by the foreground's timestamps.

    Decodes forward only as far as needed, keeping the current picture; going back in time
    (the loop, or a second user such as an export started later) restarts from the top.
    Thread-safe: the live view and an export may share it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._period: float | None = None  # known after the first pass to the end
        self._container: av.container.InputContainer | None = None
        self._frames = None
        self._current: tuple[float, np.ndarray] | None = None
        self._next: tuple[float, np.ndarray] | None = None
        self._origin = 0.0  # the first picture's time: backgrounds play from their start
        self._step = 0.04
        self._scaled: tuple[np.ndarray, tuple[int, int], np.ndarray] | None = None
        self._restart()
        if self._next is None:
            self.close()
            raise InputError(f"cannot read background {path}: no picture could be decoded")
        self._origin = self._next[0]

    def _open(self) -> None:
        try:
            self._container = av.open(str(self.path))
        except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(f"cannot read background {self.path}: {av_reason(exc)}") from None
        if not self._container.streams.video:
            self._container.close()
            raise InputError(f"cannot read background {self.path}: no video stream")
        stream = self._container.streams.video[0]
        try:  # a stated size over the budget is refused before a picture is decoded
            check_picture_size(stream.codec_context.width, stream.codec_context.height,
                               f"background {self.path}", MAX_FRAME_PIXELS)
        except InputError:
            self._container.close()
            raise
        stream.thread_type = "AUTO"
        self._frames = self._container.decode(stream)

    def _restart(self) -> None:
        if self._container is not None:
            self._container.close()
        self._open()
        self._current = None
        self._next = self._read()

    def _read(self) -> tuple[float, np.ndarray] | None:
        while True:
            try:
                picture = next(self._frames)
            except (StopIteration, av.FFmpegError):
                return None
            if picture.time is None:
                continue
            return float(picture.time), picture.to_ndarray(format="bgr24")

    def _advance_to(self, t: float) -> None:
        """Makes ``_current`` the last picture due at or before ``t`` (seconds from the top)."""
        while self._next is not None and self._next[0] - self._origin <= t + 1e-6:
            if self._current is not None:
                self._step = max(1e-3, self._next[0] - self._current[0])
            self._current, self._next = self._next, self._read()
        if self._next is None and self._period is None and self._current is not None:
            self._period = self._current[0] - self._origin + self._step

    def picture_at(self, pts_s: float, size: tuple[int, int]) -> np.ndarray:
        with self._lock:
            t = max(0.0, pts_s)
            if self._period:
                t %= self._period
            if self._current is not None and t < self._current[0] - self._origin - 1e-6:
                self._restart()
            self._advance_to(t)
            if self._next is None and self._period and t >= self._period - 1e-6:
                t %= self._period  # ran past the end the first time through: loop
                self._restart()
                self._advance_to(t)
            return self._scaled_current(size)

    def _scaled_current(self, size: tuple[int, int]) -> np.ndarray:
        picture = self._current[1] if self._current is not None else self._next[1]
        if self._scaled is None or self._scaled[0] is not picture or self._scaled[1] != size:
            self._scaled = (picture, size, cover(picture, size))
        return self._scaled[2]

    def close(self) -> None:
        with self._lock:
            if self._container is not None:
                self._container.close()
                self._container = None
