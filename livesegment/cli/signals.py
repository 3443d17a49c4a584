"""Ctrl-C and SIGTERM during a run: the run stops at the next frame and finalises its output.

Killing the process instead would leave a file without its index (unplayable) and a hidden
partial file behind; the exit code is still the signal's (130, 143), as a shell expects.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class StopOnSignal:
    """SIGINT/SIGTERM set a stop flag instead of killing the run, so output gets finalised."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        # The running job's own stop event: a pipeline sets its event when it ends, so each
        # file of a batch gets a fresh one, and a signal sets both.
        self.job_stop: threading.Event | None = None
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame) -> None:
        self.signum = self.signum or signum
        self.stop.set()
        if self.job_stop is not None:
            self.job_stop.set()

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)


class Interrupted(KeyboardInterrupt):
    """SIGTERM before a run installed :class:`StopOnSignal` (parsing, importing torch, loading
    the model), raised where the program is, as Ctrl-C is: nothing is written yet, so ending
    at once with the documented line and 143 loses nothing. Python's default ended the
    process silently."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_interrupted(signum: int, _frame) -> None:
    raise Interrupted(signum)


@contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """SIGTERM raises :class:`Interrupted` while inside; the previous handler comes back
    after (an embedding program keeps its own)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
