"""Feeding a virtual webcam at its own rate without ever holding up the pipeline.

The pipeline ``offer``s each composed picture and returns at once; a sender thread takes the
newest one every frame period and sends it (repeating the last picture when no new one came, so
a video call sees a steady camera). A consumer that stalls only stalls the sender thread.

On demand (like Linux-Fake-Background-Webcam's ``--ondemand``): while no other program has the
camera open, ``on_watched(False)`` lets the owner pause the model, and ``on_watched(True)``
resumes it when a video call opens the camera.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np

from livesegment.pipeline.slots import LatestFrameSlot

WATCH_INTERVAL_S = 1.0


class FrameDevice(Protocol):
    width: int
    height: int
    fps: float

    def send(self, bgr: np.ndarray) -> None: ...

    def consumers(self) -> int | None: ...

    def close(self) -> None: ...


class VirtualCameraFeed:
    """Sends the newest offered picture to ``device`` every ``1 / device.fps`` seconds."""

    def __init__(self, device: FrameDevice, on_demand: bool = False,
                 on_watched: Callable[[bool], None] = lambda watched: None,
                 on_error: Callable[[str], None] = lambda message: None) -> None:
        self.device = device
        self.on_demand, self.on_watched, self.on_error = on_demand, on_watched, on_error
        self._slot: LatestFrameSlot[np.ndarray] = LatestFrameSlot()
        self._stop = threading.Event()
        self.sent = 0  # frames handed to the device, repeats included
        self.fresh = 0  # of those, new pictures
        self.skipped_size = 0  # pictures of another size than the device's (not sent)
        self.watched: bool | None = None
        self._thread = threading.Thread(target=self._run, name="livesegment-virtualcam")
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Pictures replaced by a newer one before the sender took them."""
        return self._slot.dropped

    def offer(self, bgr: np.ndarray) -> None:
        """Never blocks: the newest picture wins."""
        if bgr.shape[:2] != (self.device.height, self.device.width):
            self.skipped_size += 1
            return
        self._slot.put(bgr)

    def _run(self) -> None:
        period = 1.0 / self.device.fps
        last: np.ndarray | None = None
        due = time.monotonic()
        next_check = due
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if self.on_demand and now >= next_check:
                    self._check_watched()
                    next_check = now + WATCH_INTERVAL_S
                picture = self._slot.take(timeout=0)
                if picture is not None:
                    last = picture
                    self.fresh += 1
                if last is not None:
                    self.device.send(last)
                    self.sent += 1
                due = max(due + period, time.monotonic() - period)  # no catch-up bursts
                self._stop.wait(max(0.0, due - time.monotonic()))
        except Exception as exc:  # noqa: BLE001 - reported; the pipeline lives on
            self.on_error(f"virtual camera {getattr(self.device, 'device', '')}: {exc}")

    def _check_watched(self) -> None:
        count = self.device.consumers()
        watched = count is None or count > 0
        if watched != self.watched:
            self.watched = watched
            self.on_watched(watched)

    def close(self) -> None:
        """Stops the sender and releases the device; safe to call twice."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._slot.close()
        self._thread.join()
        self.device.close()
