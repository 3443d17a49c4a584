"""Live mode's pace decisions: how many inference workers, and the "auto" inference size.

Pure logic on numbers (times, rates, sizes), so it is tested table-driven without threads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

# Candidate short sides for "auto": from small and fast to the size where ESPNetv2 finds most
# of the small walkers in the shared footage (384-512; 256 misses about half).
AUTO_SIZES = (128, 160, 192, 224, 256, 320, 384, 448, 512)
KEEP_UP = 0.9       # the model keeps up when it delivers this share of the camera's frames
SETTLE_S = 3.0      # results measured at a size before judging it
RETRY_AFTER_S = 30.0  # a size that was too slow is tried again after this long (load changes)
UP_MARGIN = 1.1     # step up only if the bigger size is predicted this much above the camera


def live_workers(device_type: str, cpus: int | None = None, backend: str = "torch") -> int:
    """Frames the live model works on at once: two on a CPU with the cores for it (ESPNetv2's
    small layers leave one core idle within a frame: 1.6x the frames on 2 cores), one on
    CUDA, where a single stream keeps the GPU busy, and one with ONNX Runtime, whose own
    thread pool fills the cores (two workers sharing it showed fewer frames: 18 vs 21 fps,
    a third of the results finishing late). BENCHMARKS.md, "Live at the camera's pace"."""
    cpus = cpus or os.cpu_count() or 1
    return 1 if device_type == "cuda" or backend == "onnxruntime" or cpus < 2 else 2


def threads_per_worker(workers: int, cpus: int | None = None) -> int:
    """Torch threads for each live worker: the cores shared out, at least one. On 2 cores,
    2 workers x 1 thread ran the model as fast as 2 x 2 unloaded, without two OpenMP pools
    waiting on each other's preempted threads (BENCHMARKS.md, "Live at the camera's pace")."""
    cpus = cpus or os.cpu_count() or 1
    return max(1, cpus // max(1, workers))


def auto_sizes(multiple: int, smallest: int) -> tuple[int, ...]:
    """The ladder for one model: sizes that are multiples of its input multiple."""
    return tuple(s for s in AUTO_SIZES if s % multiple == 0 and s >= smallest)


@dataclass
class AutoSize:
    """Picks the largest size at which the model keeps up with the camera.

    It watches the model's results at the current size for ``settle_s``. Too slow (fewer than
    ``KEEP_UP`` of the camera's frames), it steps down and remembers that size as too slow.
    To step up it cannot use the result rate, which the camera caps once the model keeps up;
    it uses the model's capacity (workers / mean busy time per frame) scaled by the next
    size's extra pixels, and steps up only if that would still keep up with ``UP_MARGIN`` to
    spare. A size found too slow is tried again after ``retry_after_s``, doubling each time it
    fails again, so a load that comes and goes costs a few seconds now and then, not a cycle.
    """

    sizes: tuple[int, ...]
    settle_s: float = SETTLE_S
    retry_after_s: float = RETRY_AFTER_S
    _size: int = field(default=0, init=False)
    _stamps: list[float] = field(default_factory=list, init=False)
    _busy: list[float] = field(default_factory=list, init=False)
    _too_slow: dict[int, float] = field(default_factory=dict, init=False)  # size -> retry time
    _failures: dict[int, int] = field(default_factory=dict, init=False)

    def observe(self, size: int, now: float, camera_fps: float, busy_s: float,
                workers: int = 1) -> int | None:
        """One model result at ``size`` finished at ``now`` after ``busy_s`` of model time;
        the size to switch to, if any."""
        if size != self._size:
            self._size, self._stamps, self._busy = size, [], []
        self._stamps.append(now)
        self._busy.append(busy_s)
        if now - self._stamps[0] < self.settle_s or len(self._stamps) < 3:
            return None
        rate = (len(self._stamps) - 1) / (now - self._stamps[0])
        capacity = workers * len(self._busy) / max(sum(self._busy), 1e-6)
        self._stamps, self._busy = [], []
        return self.decide(size, rate, capacity, camera_fps, now)

    def decide(self, size: int, rate: float, capacity: float, camera_fps: float,
               now: float) -> int | None:
        smaller = [s for s in self.sizes if s < size]
        bigger = [s for s in self.sizes if s > size]
        if rate < camera_fps * KEEP_UP:
            if not smaller:
                return None
            failures = self._failures[size] = self._failures.get(size, 0) + 1
            self._too_slow[size] = now + self.retry_after_s * 2 ** (failures - 1)
            return smaller[-1]
        if bigger:
            up = bigger[0]
            if now >= self._too_slow.get(up, float("-inf")) and \
                    capacity * (size / up) ** 2 >= camera_fps * UP_MARGIN:
                return up
        return None
