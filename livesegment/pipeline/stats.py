"""Running statistics for readouts and benchmarks, cheap enough to update every frame."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np


@dataclass
class StageTimes:
    """Per-stage durations (seconds), thread-safe, for mean and p95 reports."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.samples.setdefault(stage, []).append(seconds)

    def merge(self, other: StageTimes) -> None:
        """Adds another run's samples (benchmark rounds pooled into one report)."""
        with other._lock:
            copied = {k: list(v) for k, v in other.samples.items()}
        with self._lock:
            for stage, values in copied.items():
                self.samples.setdefault(stage, []).extend(values)

    def summary(self) -> dict[str, dict[str, float]]:
        """``{stage: {"mean_ms": .., "p95_ms": .., "n": ..}}``."""
        with self._lock:
            items = {k: np.asarray(v) for k, v in self.samples.items() if v}
        return {k: {"mean_ms": float(v.mean() * 1e3), "p95_ms": float(np.percentile(v, 95) * 1e3),
                    "n": int(v.size)} for k, v in items.items()}


class RateMeter:
    """Events per second over a sliding window of recent timestamps."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._stamps.append(now)
            self._trim(now)

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._trim(now)
            if len(self._stamps) < 2:
                return 0.0
            span = self._stamps[-1] - self._stamps[0]
            return (len(self._stamps) - 1) / span if span > 0 else 0.0

    def _trim(self, now: float) -> None:
        while self._stamps and now - self._stamps[0] > self.window_s:
            self._stamps.popleft()
