"""Work that can block (loading a model, opening a camera, a pipeline's worker reporting) done off
the GUI thread, its answer handled on it.

One queued signal carries every answer as the call that handles it, so a request and its
handlers are written together where the work is asked for, instead of a signal per kind of result
wired up elsewhere.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PyQt6.QtCore import QObject, pyqtSignal

from livesegment.errors import describe


class BackgroundWork(QObject):
    """Helper threads whose results come back to the GUI thread; joined when the window closes."""

    _answered = pyqtSignal(object)  # the call that handles an answer, run on the GUI thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._threads: list[threading.Thread] = []
        self._answered.connect(lambda handle: handle())

    def run(self, make: Callable[[], object], ready: Callable[[object], None],
            failed: Callable[[str], None]) -> None:
        """``make()`` on a helper thread, then ``ready(result)``, or ``failed(reason in words)``
        if it raised, on the GUI thread."""
        def work() -> None:
            try:
                result = make()
            except Exception as exc:  # noqa: BLE001 - the caller shows it
                self.answer(failed, describe(exc))
                return
            self.answer(ready, result)

        self.start(work)

    def answer(self, handle: Callable[..., None], *args: object) -> None:
        """Queues ``handle(*args)`` onto the GUI thread; callable from any thread."""
        self._answered.emit(lambda: handle(*args))

    def start(self, work: Callable[[], None]) -> None:
        thread = threading.Thread(target=work, name="livesegment-helper")
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def join(self, timeout_s: float) -> None:
        for thread in self._threads:
            thread.join(timeout_s)
