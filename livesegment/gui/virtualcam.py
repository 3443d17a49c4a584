"""The window's "Send to virtual camera" toggle: the picture on screen also goes to a virtual
webcam (Zoom, Meet, Teams, OBS), paced and newest-wins by :class:`VirtualCameraFeed`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QPushButton

from livesegment.errors import LivesegmentError, describe
from livesegment.io.virtualcam import VirtualCamera
from livesegment.pipeline.virtualcam import VirtualCameraFeed

CameraFactory = Callable[[int, int, float], VirtualCamera]


class VirtualCameraButton(QPushButton):
    """Checked: the next shown frame opens the camera at its size; unchecked: it is released.

    ``error`` carries a one-line message (no device, pyvirtualcam missing, a send that
    failed); the button unchecks itself and the window keeps running. ``message``: status text
    and how long to show it (milliseconds).
    """

    message = pyqtSignal(str, int)
    error = pyqtSignal(str)

    def __init__(self, fps: Callable[[], float],
                 camera_factory: CameraFactory = VirtualCamera) -> None:
        super().__init__("Send to virtual camera")
        self.setCheckable(True)
        self.setToolTip("Send the picture to a virtual webcam that video calls can pick "
                        "(needs livesegment[virtualcam] and v4l2loopback or OBS)")
        self._fps = fps
        self._make_camera = camera_factory
        self.feed: VirtualCameraFeed | None = None
        self.toggled.connect(self._toggled)
        self.error.connect(lambda _message: self.setChecked(False))

    def offer(self, bgr: np.ndarray) -> None:
        """Called with each shown picture; opens the camera on the first one after checking."""
        if not self.isChecked():
            return
        if self.feed is None:
            height, width = bgr.shape[:2]
            try:
                camera = self._make_camera(width, height, self._fps())
            except LivesegmentError as exc:
                self._fail(describe(exc))
                return
            self.feed = VirtualCameraFeed(camera, on_error=self._fail)
            self.message.emit(f"Sending {width}x{height} to virtual camera {camera.device}", 8000)
        self.feed.offer(bgr)

    def _fail(self, reason: str) -> None:
        self.error.emit(f"virtual camera: {reason}")

    def _toggled(self, on: bool) -> None:
        if not on:
            self.stop()

    def stop(self) -> None:
        feed, self.feed = self.feed, None
        if feed is not None:
            feed.close()
