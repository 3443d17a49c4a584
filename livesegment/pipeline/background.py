"""Slow work that a window starts and may cancel, without Qt: one thread, one stop event, one
report when it ends (the value or the error). The same shape serves carrying labels, training
on them and exporting a video; a window hands ``on_done`` on to its own thread (a queued
signal) before touching widgets."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class BackgroundRun(Generic[T]):
    """One piece of work on a thread of its own: ``cancel()`` sets its stop event, ``result()``
    waits and returns its value or raises its error; ``on_done`` (in the worker thread) is
    called once it has ended either way. ``daemon=False`` for work that must finish its files
    even when the program is leaving (the caller then waits for it)."""

    def __init__(self, work: Callable[[threading.Event], T], name: str,
                 on_done: Callable[[BackgroundRun[T]], None] | None = None, *,
                 daemon: bool = True) -> None:
        self.stop = threading.Event()
        self._work, self._on_done = work, on_done
        self._value: T | None = None
        self.error: BaseException | None = None
        self._ended = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=daemon)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._work(self.stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by result()
            self.error = exc
        finally:
            self._ended.set()
            if self._on_done is not None:
                self._on_done(self)

    def cancel(self) -> None:
        self.stop.set()

    @property
    def done(self) -> bool:
        return self._ended.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._ended.wait(timeout)

    def result(self, timeout: float | None = None) -> T:
        if not self._ended.wait(timeout):
            raise TimeoutError("the background run has not ended")
        if self.error is not None:
            raise self.error
        return self._value  # type: ignore[return-value]
