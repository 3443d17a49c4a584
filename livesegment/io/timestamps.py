"""Presentation times that survive containers that lie about them.

AVI stores no presentation timestamps: with B-frames, FFmpeg hands back decoded pictures in the
right (display) order but with their pts values shuffled among neighbours. The *set* of values
is right, only their assignment is not, so :class:`TimestampReorder` holds a few pictures back
and gives each the smallest time still pending. Where pts are already in order this changes
nothing; missing times are filled one frame step after the last, and times never go backwards.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class TimestampReorder(Generic[T]):
    """Feed ``(item, pts, dts)`` in display order; get ``(item, ticks)`` back, increasing."""

    window: int = 8  # pictures held back; must cover the stream's reordering depth
    default_step: int = 1  # ticks between pictures when no clock says anything
    _items: deque = field(default_factory=deque)
    _times: list[int] = field(default_factory=list)
    _last: int | None = None
    _step: int | None = None

    def push(self, item: T, pts: int | None, dts: int | None) -> Iterator[tuple[T, int]]:
        self._items.append(item)
        candidate = pts if pts is not None else dts
        if candidate is not None and (self._last is None or candidate > self._last):
            heapq.heappush(self._times, candidate)
        while len(self._items) > self.window:
            yield self._pop()

    def flush(self) -> Iterator[tuple[T, int]]:
        while self._items:
            yield self._pop()

    def _pop(self) -> tuple[T, int]:
        item = self._items.popleft()
        guess = heapq.heappop(self._times) if self._times else None
        return item, self._increasing(guess)

    def _increasing(self, guess: int | None) -> int:
        last = self._last
        if last is None:
            out = guess if guess is not None else 0
        elif guess is not None and guess > last:
            out = guess
            self._step = out - last if self._step is None else min(self._step, out - last)
        else:
            out = last + (self._step or self.default_step)
        self._last = out
        return out
