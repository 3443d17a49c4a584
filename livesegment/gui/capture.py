"""Pause, snapshot and record: keeping what the window shows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QStandardPaths, pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QPushButton, QWidget

from livesegment.errors import LivesegmentError, describe
from livesegment.io.images import write_image
from livesegment.pipeline.recorder import Recorder


def media_path(kind: QStandardPaths.StandardLocation, suffix: str) -> Path:
    """A new time-stamped file in the user's Pictures/Videos folder (cwd if none)."""
    folder = Path(QStandardPaths.writableLocation(kind) or Path.cwd())
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"livesegment-{datetime.now():%Y%m%d-%H%M%S}{suffix}"


class CaptureControls(QWidget):
    """The Pause, Snapshot and Record buttons and the recorder behind them.

    ``current_frame`` gives the picture on screen (``None`` before the first). Outcomes are
    reported through ``message`` (status text, milliseconds) and ``error``.
    """

    message = pyqtSignal(str, int)
    error = pyqtSignal(str)

    def __init__(self, current_frame: Callable[[], np.ndarray | None]) -> None:
        super().__init__()
        self._current_frame = current_frame
        self.recorder: Recorder | None = None
        self.pause_button = QPushButton("Pause")
        self.snapshot_button = QPushButton("Snapshot")
        self.record_button = QPushButton("Record")
        self.record_button.setCheckable(True)
        self.row = QHBoxLayout(self)
        for b in (self.pause_button, self.snapshot_button, self.record_button):
            self.row.addWidget(b)
        self.snapshot_button.clicked.connect(lambda: self.snapshot())
        self.record_button.toggled.connect(lambda on: self.set_recording(on))

    def show_paused(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")

    def add(self, image: np.ndarray, captured_at: float) -> None:
        """A shown picture, for the recording if one runs."""
        if self.recorder is not None:
            self.recorder.add(image, captured_at)

    def snapshot(self, path: Path | None = None) -> Path | None:
        """The picture on screen as a PNG (with its alpha channel for the alpha effect)."""
        frame = self._current_frame()
        if frame is None:
            self.message.emit("Nothing to snapshot yet", 4000)
            return None
        path = path or media_path(QStandardPaths.StandardLocation.PicturesLocation, ".png")
        try:
            write_image(Path(path), frame)
        except (LivesegmentError, OSError) as exc:
            self.error.emit(f"snapshot failed: {describe(exc)}")
            return None
        self.message.emit(f"Saved {path}", 6000)
        return Path(path)

    def set_recording(self, on: bool, path: Path | None = None) -> Path | None:
        """Starts recording (returns the target) or stops it (returns the saved file)."""
        if on and self.recorder is None:
            return self._start(path)
        if not on and self.recorder is not None:
            return self._stop()
        return None

    def _start(self, path: Path | None) -> Path | None:
        frame = self._current_frame()
        if frame is None:
            self.record_button.setChecked(False)
            self.message.emit("Nothing to record yet", 4000)
            return None
        path = path or media_path(QStandardPaths.StandardLocation.MoviesLocation, ".mp4")
        try:
            self.recorder = Recorder(Path(path), frame.shape[1], frame.shape[0])
        except (LivesegmentError, OSError) as exc:
            self.record_button.setChecked(False)
            self.error.emit(f"cannot record: {describe(exc)}")
            return None
        self.record_button.blockSignals(True)
        self.record_button.setChecked(True)
        self.record_button.blockSignals(False)
        self.record_button.setText("Stop recording")
        self.message.emit(f"Recording to {path}", 0)
        return Path(path)

    def _stop(self) -> Path | None:
        recorder, self.recorder = self.recorder, None
        self.record_button.blockSignals(True)
        self.record_button.setChecked(False)
        self.record_button.blockSignals(False)
        self.record_button.setText("Record")
        try:
            saved = recorder.stop()
        except Exception as exc:  # noqa: BLE001 - reported in the status bar
            self.error.emit(f"recording failed: {describe(exc)}")
            return None
        self.message.emit(f"Saved recording {saved}", 8000)
        return saved
