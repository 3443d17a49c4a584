"""One-slot holders: the newest item wins, so a slow consumer never falls behind its producer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestFrameSlot(Generic[T]):
    """Holds at most one item; ``put`` replaces an untaken one and counts it as dropped.

    This is what keeps live mode live: when the model is slower than the camera, stale
    frames are dropped (and counted) instead of queueing up as latency.
    """

    def __init__(self) -> None:
        self._item: T | None = None
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0
        self.delivered = 0

    def put(self, item: T) -> None:
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()

    def take(self, timeout: float | None = None) -> T | None:
        """The newest item (removing it), waiting up to ``timeout``; ``None`` if none/closed."""
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            if item is not None:
                self.delivered += 1
            return item

    def peek(self) -> T | None:
        """The newest item without taking it (the GUI repaints it until a newer one comes)."""
        with self._cond:
            return self._item

    def close(self) -> None:
        """Wakes every waiter; later ``take`` calls return at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class InOrderSlot(LatestFrameSlot[T]):
    """A newest-wins slot for results that several workers finish out of order: an item
    older (by ``key``, e.g. its frame's capture time) than one already put is refused and
    counted as ``late``, so a consumer never goes back in time."""

    def __init__(self, key: Callable[[T], float]) -> None:
        super().__init__()
        self._key = key
        self._newest = float("-inf")
        self.late = 0

    def put(self, item: T) -> bool:  # type: ignore[override]
        """True if ``item`` was newer than everything before it (and so was kept)."""
        with self._cond:
            key = self._key(item)
            if key <= self._newest:
                self.late += 1
                return False
            self._newest = key
            super().put(item)  # the condition's lock is re-entrant: check and put are one step
            return True
