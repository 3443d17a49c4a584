"""Exporting the open video file in the background, with a progress bar and Cancel."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtWidgets import QProgressBar, QPushButton

from livesegment.core.segmenter import Segmenter
from livesegment.core.masks.smoothing import MASKS_OFF, MaskOptions
from livesegment.errors import describe
from livesegment.pipeline.background import BackgroundRun
from livesegment.pipeline.job import JobReport, Progress, process_file


class ExportController(QObject):
    """Runs the offline engine on one file at a time on its own thread; the live view goes on.

    Owns the Export button, the progress bar and Cancel (the window places them). ``done``
    and the outcome in words (``message``: status text, milliseconds; ``error``) arrive on the
    GUI thread once the work has ended.
    """

    done = pyqtSignal(object)    # JobReport
    message = pyqtSignal(str, int)
    error = pyqtSignal(str)
    _progress = pyqtSignal(object)
    _finished = pyqtSignal(object)  # the BackgroundRun, from its thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.button = QPushButton("Export annotated video…")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.hide()
        self._run: BackgroundRun[JobReport] | None = None
        self.cancel_button.clicked.connect(self.cancel)
        self._progress.connect(self._show_progress)
        self._finished.connect(self._end)

    @property
    def running(self) -> bool:
        return self._run is not None

    def start(self, source: Path, output: Path, segmenter: Segmenter, style,
              masks: MaskOptions = MASKS_OFF) -> bool:
        """Starts exporting ``source`` with ``style`` (an overlay style or an effect) and the
        window's mask smoothing and refinement."""
        if self._run is not None:
            return False

        def work(stop) -> JobReport:
            # The live view keeps its own model object; torch modules are safe to share for
            # inference, and each thread runs its own forward pass.
            return process_file(source, output, segmenter, style, stop=stop,
                                on_progress=self._progress.emit, mask_options=masks)

        self.progress.setValue(0)
        self.progress.setFormat("Export %p%")
        self.progress.show()
        self.cancel_button.show()
        self.button.setEnabled(False)
        # not a daemon: the output file is finalised even when the program is leaving
        self._run = BackgroundRun(work, "livesegment-export", self._finished.emit,
                                  daemon=False)
        return True

    def cancel(self) -> None:
        if self._run is not None:
            self._run.cancel()

    def join(self) -> None:
        """Stops a running export and waits for its file to be finalised (window closing)."""
        self.cancel()
        if self._run is not None:
            self._run.wait()

    def _show_progress(self, p: Progress) -> None:
        if p.total_s > 0:
            frac = min(1.0, p.media_s / p.total_s)
            eta = p.elapsed_s * (1 - frac) / frac if frac > 0 else 0
            self.progress.setValue(int(frac * 1000))
            self.progress.setFormat(f"Export %p% · ETA {int(eta) // 60}:{int(eta) % 60:02d}")

    def _end(self, run: BackgroundRun[JobReport]) -> None:
        self._run = None
        self.progress.hide()
        self.cancel_button.hide()
        self.button.setEnabled(True)
        if run.error is not None:
            self.error.emit(f"export failed: {describe(run.error)}")
            return
        report = run.result()
        if report.interrupted:
            where = f"; {report.frames} frames kept in {report.output}" if report.output else ""
            self.message.emit(f"Export cancelled{where}", 10000)
        else:
            self.message.emit(f"Exported {report.frames} frames to {report.output}", 10000)
        self.done.emit(report)
