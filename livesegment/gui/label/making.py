"""Making a label folder from pictures or a video off the GUI thread, with a progress dialog
whose Cancel stops it: a long video's frames take minutes, and the window keeps painting."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from PyQt6.QtWidgets import QProgressDialog, QWidget

from livesegment.gui.background import BackgroundWork
from livesegment.io.datasets.labelstore import LabelStore
from livesegment.io.images import IMAGE_SUFFIXES

SHOW_AFTER_MS = 500  # a few pictures are copied before a dialog would only flash
REPORT_EVERY_S = 0.05  # a fast disk writes hundreds of frames a second: the GUI needs 20


class Cancelled(Exception):
    """Raised from the progress callback: the store removes what it wrote."""


class FolderMaking:
    """``LabelStore.create(output, source)`` on one of ``background``'s helper threads.

    ``dialog`` shows pictures or frames written out of the total (a busy bar where a video
    does not say), ``shown(text)`` gets the same in words ("" at the end). Cancel, closing
    the dialog or :meth:`cancel` stops at the next frame: no folder is left, ``said`` tells
    the user so. Otherwise ``ready(store)`` or ``failed(reason)`` on the GUI thread.
    """

    def __init__(self, parent: QWidget, background: BackgroundWork, source: str, output: str,
                 *, ready: Callable[[LabelStore], None], failed: Callable[[str], None],
                 said: Callable[[str], None], shown: Callable[[str], None]) -> None:
        self.cancelled = threading.Event()
        self.running = True
        self._background, self._shown, self._reported = background, shown, 0.0
        path = Path(source)
        self.unit = "pictures" if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES \
            else "frames"
        self.title = f"Making {Path(output).name}"
        self.dialog = QProgressDialog(f"{self.title}…", "Cancel", 0, 0, parent)
        self.dialog.setWindowTitle("livesegment: new label folder")
        self.dialog.setAutoClose(False)  # a video's stated total can be reached early
        self.dialog.setAutoReset(False)
        self.dialog.setMinimumDuration(SHOW_AFTER_MS)
        self.dialog.canceled.connect(self.cancel)
        shown(f"{self.title}…")

        def finish(then: Callable, *args: object) -> None:
            self.running = False
            self.dialog.hide()  # not close(): that would say Cancel
            shown("")
            then(*args)

        def made(store: LabelStore) -> None:
            finish(ready, store)

        def refused(why: str) -> None:
            if self.cancelled.is_set():
                finish(said, f"Cancelled: no label folder was made at {output}")
            else:
                finish(failed, why)

        background.run(lambda: LabelStore.create(output, source, progress=self._progress),
                       made, refused)

    def cancel(self) -> None:
        self.cancelled.set()

    def _progress(self, done: int, total: int | None) -> None:
        """On the helper thread: stops when cancelled, else reports now and then (and the
        last frame always, so the dialog ends on it)."""
        if self.cancelled.is_set():
            raise Cancelled()
        now = time.monotonic()
        if done == total or now - self._reported >= REPORT_EVERY_S:
            self._reported = now
            self._background.answer(self._show, done, total)

    def _show(self, done: int, total: int | None) -> None:
        if not self.running:
            return
        self.dialog.setMaximum(total or 0)  # 0: a busy bar
        self.dialog.setValue(min(done, total) if total else 0)
        count = f"{done}/{total}" if total else f"{done}"
        text = f"{self.title}: {count} {self.unit}"
        self.dialog.setLabelText(text)
        self._shown(text)
