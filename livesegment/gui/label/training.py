""""Train on these labels…": the pipeline's training run (pipeline/labelling.py) in the
background, with a progress bar, the time left, Cancel (the best model so far is kept), and
at the end the offer to use the model in the live window."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QProgressBar, QPushButton,
                             QVBoxLayout, QWidget)

from livesegment.errors import describe
from livesegment.pipeline.background import BackgroundRun
from livesegment.pipeline.labelling import start_training


def clock(seconds: float) -> str:
    """1:05 / 1:02:03: time left as a person reads it."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class TrainDialog(QDialog):
    """One training run: ``use_model(path)`` when the user takes the result as live model."""

    use_model = pyqtSignal(str)
    _progress = pyqtSignal(object)  # TrainProgress, from the run's thread
    _finished = pyqtSignal(object)  # the BackgroundRun, from the run's thread

    def __init__(self, store: Any, output: Path, parent: QWidget | None = None, *,
                 config: Any = None, overwrite: bool = False,
                 start: Callable[..., BackgroundRun] = start_training) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train on these labels")
        self.output = Path(output)
        self.model: Path | None = None
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # until the first step says how many there are
        self.status = QLabel(f"Starting: the model goes to {self.output}")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.use_button = QPushButton("Use as live model")
        self.use_button.setEnabled(False)
        self.buttons.addButton(self.use_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button.clicked.connect(self._use)
        layout = QVBoxLayout(self)
        for widget in (self.status, self.bar, self.buttons):
            layout.addWidget(widget)
        self._progress.connect(self._show_progress)
        self._finished.connect(self._done)
        self._shown_end = False
        self.run = start(store, self.output, config=config, on_progress=self._progress.emit,
                         on_done=self._finished.emit, overwrite=overwrite)

    @property
    def running(self) -> bool:
        """Until the dialog has shown how the run ended (not merely until its thread is
        done: the report is still on its way to the GUI thread then)."""
        return not self._shown_end

    def cancel(self) -> None:
        """Stops at the next step (the best model so far stays); closes once stopped."""
        if self.running:
            self.run.cancel()
            self.status.setText("Stopping after this step; the best model so far is kept…")
            self.cancel_button.setEnabled(False)
        else:
            self.reject()

    def _show_progress(self, p: Any) -> None:
        if p.total_steps:
            self.bar.setRange(0, p.total_steps)
            self.bar.setValue(p.step)
        score = f", best mIoU {p.best_miou:.2f}" if p.best_miou is not None else ""
        loss = f", loss {p.loss:.3f}" if p.loss is not None else ""
        self.status.setText(f"Step {p.step} of {p.total_steps} ({p.phase}){loss}{score}; "
                            f"about {clock(p.eta_s)} left")

    def _done(self, run: BackgroundRun) -> None:
        self._shown_end = True
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Close")
        if run.error is not None:
            self.status.setText(f"Training failed: {describe(run.error)}")
            return
        outcome = run.result()
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        if outcome.model is None:
            self.status.setText("Stopped before a model was saved; label a few more pictures "
                                "or let it run longer")
            return
        self.model = Path(outcome.model)
        best = outcome.result.validation.get("miou") if outcome.result.validation else None
        figure = f" (mIoU {best:.2f} on the held-back pictures)" if best is not None else ""
        self.status.setText(f"Saved {self.model}{figure} after {clock(outcome.result.seconds)}"
                            f" ({outcome.result.reason}). Use it as the live model?")
        self.use_button.setEnabled(True)

    def _use(self) -> None:
        if self.model is not None:
            self.use_model.emit(str(self.model))
        self.accept()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.running:
            self.run.cancel()
        super().closeEvent(event)
