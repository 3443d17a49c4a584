"""Per-thread CPU settings for the live stages: their torch thread count, their priority, and
the start-up meeting that lets the constructor restore the process-wide thread count."""

from __future__ import annotations

import os
import threading

import torch

# The model workers yield to the composer, capture and window threads, whose work is short
# and in the way of every frame: 2 workers at 720p with smoothing and refinement on 2 cores,
# capture-to-display p50 125-133 -> 114 ms, camera-pace display 26-27 -> 28.5 fps; under
# another process's load the model rate held (BENCHMARKS.md, "Live at the camera's pace").
WORKER_NICE = 5


def set_own_threads(count: int) -> None:
    """Fixes the calling thread's torch (OpenMP) thread count. ``torch.set_num_threads`` also
    sets the count that threads started later take up; reading it back fixes this thread's
    own, so the constructor can put the process-wide one back once every stage has done so."""
    torch.set_num_threads(count)
    torch.get_num_threads()


def meet(barrier: threading.Barrier, timeout_s: float = 10.0) -> None:
    """Waits for the other stages at start-up; one that never comes (a thread that failed
    to start) breaks the barrier after ``timeout_s`` instead of hanging the constructor."""
    try:
        barrier.wait(timeout_s)
    except threading.BrokenBarrierError:
        pass


def lower_priority(nice: int) -> None:
    """Raises the calling thread's nice value (Linux: per thread). Elsewhere, or where the
    system refuses, the thread keeps its priority: it only costs latency."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(),
                       os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) + nice)
    except (AttributeError, OSError):
        pass
