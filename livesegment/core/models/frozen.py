"""The CPU model runner: TorchScript graphs frozen per input shape, built once a shape is hot.

Measured on ESPNetv2 at 448x256 on 2 cores (BENCHMARKS.md): a frozen graph runs 1.26x faster
than the eager network one frame at a time, 1.20x with two frames in flight, and the offline
pipeline 1.21x. The graph runs its layers in C++ without Python between them.

* Per shape: the network computes its pyramid sizes from the input in Python, which a trace
  records as constants, so a graph is valid only for the shape it was traced at.
* Once hot: tracing and freezing take a few seconds, worth it for a video or a live session,
  not for a still or a short clip, so a shape is frozen after ``hot_after`` frames.
* In the background for exports: until a shape's graph is ready, frames run eagerly. Live mode
  instead calls :meth:`FrozenPerShape.prepare` and waits before showing a new size: a trace
  holds the GIL in long stretches and stalls an eager model running beside it.
* Checked: a graph whose logits differ from the eager network's on a test input is discarded
  (and so is one that fails to build); that shape stays eager.

``torch.jit`` is deprecated in favour of ``torch.compile``, which was measured slower here
(no gain over ``channels_last`` after a 116 s compile); the eager path remains the fallback if
a future torch drops ``torch.jit``.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict

import torch
from torch import nn

HOT_AFTER = 30        # frames of one shape before its graph is built
MAX_GRAPHS = 4        # shapes kept (a live session changing size does not grow without end)
TOLERANCE = 1e-3      # max |logit difference| allowed, relative to the largest logit

Key = tuple[tuple[int, ...], torch.dtype, bool]


class FrozenPerShape(nn.Module):
    """Callable like the network it wraps; thread-safe, as the network itself is for reads."""

    def __init__(self, model: nn.Module, hot_after: int = HOT_AFTER,
                 max_graphs: int = MAX_GRAPHS, background: bool = True) -> None:
        super().__init__()
        self.eager = model
        self.hot_after = hot_after
        self.max_graphs = max_graphs
        self.background = background
        self._graphs: OrderedDict[Key, torch.jit.ScriptModule | None] = OrderedDict()
        self._seen: dict[Key, int] = {}
        self._lock = threading.Lock()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        key = (tuple(x.shape), x.dtype, x.is_contiguous(memory_format=torch.channels_last))
        with self._lock:
            graph = self._graphs.get(key)
            hot = key not in self._graphs and self._count(key) >= self.hot_after
        if hot:  # built in the background unless told otherwise; eager meanwhile
            self.prepare(*key, wait=not self.background)
        if graph is not None:
            return graph(x)
        return self.eager(x)

    def prepare(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32,
                channels_last: bool = True, wait: bool = True) -> bool:
        """Builds the graph for ``shape`` without waiting for it to be hot: in this thread
        (``wait``, for benchmarks that time the steady state), or in the background (a video
        job that knows its frame size). True if a checked graph serves the shape now."""
        key = (tuple(shape), dtype, channels_last)
        with self._lock:
            start = key not in self._graphs
            if start:
                self._graphs[key] = None
        if start and wait:
            self._build(key)
        elif start:
            # Not a daemon: torch must not be torn down under a running trace at exit (the
            # process aborts), so exit waits the few seconds a build takes.
            threading.Thread(target=self._build, args=(key,), name="livesegment-freeze",
                             daemon=False).start()
        return self.graph_for(shape) is not None

    def planned(self, shape: tuple[int, ...]) -> bool:
        """True once a graph for ``shape`` is built, being built, or was refused: nothing is
        left to prepare for it."""
        with self._lock:
            return any(k[0] == tuple(shape) for k in self._graphs)

    def graph_for(self, shape: tuple[int, ...]) -> torch.jit.ScriptModule | None:
        """The frozen graph serving ``shape``, if one is ready (for tests and reports)."""
        with self._lock:
            return next((g for k, g in self._graphs.items() if k[0] == tuple(shape)), None)

    def _count(self, key: Key) -> int:
        self._seen[key] = self._seen.get(key, 0) + 1
        return self._seen[key]

    def _build(self, key: Key) -> None:
        shape, dtype, channels_last = key
        try:
            graph = _freeze(self.eager, shape, dtype, channels_last)
        except Exception:  # noqa: BLE001 - an untraceable model simply stays eager
            graph = None
        with self._lock:
            self._graphs[key] = graph
            self._graphs.move_to_end(key)
            while len(self._graphs) > self.max_graphs:
                old, _ = self._graphs.popitem(last=False)
                self._seen.pop(old, None)


def _freeze(model: nn.Module, shape: tuple[int, ...], dtype: torch.dtype,
            channels_last: bool) -> torch.jit.ScriptModule | None:
    """Traces, freezes and warms up a graph for one input shape; None if, on an input other
    than the one traced, it disagrees with the eager network."""
    traced_on, checked_on = (_random_input(shape, dtype, channels_last, seed) for seed in (0, 1))
    _quiet_tracing()
    with torch.no_grad():
        # torch's own trace check re-runs the whole trace (2.0 s -> 0.8 s without it); the check
        # below, on another input, is the one that matters.
        traced = torch.jit.trace(model, traced_on, check_trace=False)
        graph = torch.jit.freeze(traced.eval())
        for _ in range(3):  # the profiling executor specialises on its first runs
            got = graph(checked_on)
        expected = model(checked_on)
    scale = float(expected.abs().max()) or 1.0
    if got.shape != expected.shape or float((got - expected).abs().max()) > TOLERANCE * scale:
        return None
    return graph


def _quiet_tracing() -> None:
    """Silences the tracer's notes about Python sizes (per-shape constants here, by design) and
    torch.jit's deprecation notice, which would reach users as noise. Narrow filters, not
    ``catch_warnings``: that swaps process-wide state and the build runs in the background."""
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated",
                            category=FutureWarning)


def _random_input(shape: tuple[int, ...], dtype: torch.dtype, channels_last: bool,
                  seed: int) -> torch.Tensor:
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed)).to(dtype)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x
