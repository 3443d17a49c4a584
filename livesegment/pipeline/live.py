"""Live mode: capture thread -> newest-frame slot -> inference thread -> newest-result slot.

Nothing queues behind the model: when it is slower than the camera, frames are dropped (and
counted) rather than delayed, so what is shown is never older than about one inference period
plus one capture interval. The front end (the Qt window) polls :meth:`LivePipeline.latest`.
Threads stop by a flag and are joined; nothing is killed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from livesegment.core.frames import Composed, Frame
from livesegment.core.effects import Effect, for_model
from livesegment.core.overlay import OverlayStyle
from livesegment.core.preprocess import inference_size
from livesegment.core.segmenter import Segmenter
from livesegment.core.smoothing import MASKS_OFF, MaskOptions, TemporalSmoother
from livesegment.errors import LivesegmentError, describe
from livesegment.io.live import LiveSource
from livesegment.pipeline.slots import LatestFrameSlot
from livesegment.pipeline.stats import RateMeter

JOIN_TIMEOUT_S = 1.0
ERROR_BACKOFF_S = 0.2  # after a failed inference, so a broken model does not spin a core


@dataclass(frozen=True)
class LiveStats:
    capture_fps: float
    inference_fps: float
    dropped: int
    ready_latency_ms: float  # capture -> composed frame ready, newest frame
    model: str
    device: str
    size: int


class LivePipeline:
    """Owns the two worker threads and the slots between them.

    ``on_error(message, retryable)`` and ``on_notice(message)`` are called from worker threads:
    the GUI passes Qt signal ``emit`` methods, which queue onto its own thread.
    """

    def __init__(self, segmenter: Segmenter, style: OverlayStyle | Effect,
                 on_error: Callable[[str, bool], None] = lambda m, r: None,
                 on_notice: Callable[[str], None] = lambda m: None,
                 on_end: Callable[[], None] = lambda: None,
                 masks: MaskOptions = MASKS_OFF) -> None:
        self.segmenter = segmenter
        self.style = style
        self.masks = masks
        self._smoother = TemporalSmoother(masks.smoothing)  # past only: live has no future
        self._smoothed_for: Segmenter | None = None
        self.on_error, self.on_notice, self.on_end = on_error, on_notice, on_end
        self.frames: LatestFrameSlot[Frame] = LatestFrameSlot()
        self.results: LatestFrameSlot[Composed] = LatestFrameSlot()
        self.capture_rate, self.inference_rate = RateMeter(), RateMeter()
        self._pending: Segmenter | None = None
        self._source: LiveSource | None = None
        self._capture: threading.Thread | None = None
        self._capture_stop = threading.Event()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._inference = threading.Thread(target=self._infer_loop, name="livesegment-infer")
        self._inference.start()

    # -- control (any thread) -------------------------------------------------------------
    def set_source(self, source: LiveSource | None) -> None:
        """Stops the current capture (joining it) and starts reading ``source``."""
        self._stop_capture()
        self._source = source
        if source is None:
            return
        self._capture_stop = threading.Event()
        self._capture = threading.Thread(target=self._capture_loop,
                                         args=(source, self._capture_stop),
                                         name="livesegment-capture")
        self._capture.start()

    @property
    def source_fps(self) -> float:
        """The current source's nominal frame rate (30 when unknown or none is open)."""
        return float(getattr(self._source, "fps", 0.0) or 30.0)

    def set_segmenter(self, segmenter: Segmenter) -> None:
        """Takes effect on the next frame; if it fails there, the current model stays."""
        self._pending = segmenter

    def set_style(self, style: OverlayStyle | Effect) -> None:
        """Immutable swap: the next frame uses it whole (no restart)."""
        self.style = style

    def set_masks(self, masks: MaskOptions) -> None:
        """Smoothing strength and refinement for the next frame; a new strength starts the
        smoothing history afresh."""
        if masks.smoothing != self.masks.smoothing:
            self._smoother = TemporalSmoother(masks.smoothing)
        self.masks = masks

    def set_paused(self, paused: bool) -> None:
        (self._paused.set if paused else self._paused.clear)()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def latest(self) -> Composed | None:
        return self.results.peek()

    def take_latest(self) -> Composed | None:
        return self.results.take(timeout=0)

    def stats(self) -> LiveStats:
        newest = self.results.peek()
        ready = (newest.ready_at - newest.frame.captured_at) if newest else 0.0
        seg = self.segmenter
        return LiveStats(self.capture_rate.rate(), self.inference_rate.rate(),
                         self.frames.dropped, ready * 1e3, seg.spec.name, seg.device.type,
                         seg.size)

    def threads(self) -> list[threading.Thread]:
        return [t for t in (self._capture, self._inference) if t is not None and t.is_alive()]

    def stop(self) -> None:
        """Stops and joins every thread and releases the source; safe to call twice."""
        self._stop.set()
        self.frames.close()
        self._stop_capture()
        self._inference.join(JOIN_TIMEOUT_S)

    # -- workers ----------------------------------------------------------------------------
    def _stop_capture(self) -> None:
        self._capture_stop.set()
        if self._capture is not None:
            self._capture.join(JOIN_TIMEOUT_S)
            self._capture = None
        if self._source is not None:
            self._source.close()
            self._source = None

    def _capture_loop(self, source: LiveSource, stop: threading.Event) -> None:
        while not stop.is_set():
            if self._paused.is_set():
                time.sleep(0.02)
                continue
            try:
                frame = source.read()
            except Exception as exc:  # noqa: BLE001 - any failure of a live source is reported
                if not stop.is_set():
                    self.on_error(f"{source.name}: {describe(exc)}", True)
                return
            if frame is None:
                self.on_end()
                return
            self.capture_rate.tick()
            self.frames.put(frame)

    def _infer_loop(self) -> None:
        while not self._stop.is_set():
            frame = self.frames.take(timeout=0.1)
            if frame is None or self._paused.is_set():
                continue
            candidate = self._pending or self.segmenter
            try:
                if self._warm_up(candidate, frame):
                    continue  # this frame went stale during the build; take a fresh one
                composed = self._compose(candidate, frame)
            except torch.OutOfMemoryError:
                self._shrink_after_oom(candidate)
                continue
            except Exception as exc:  # noqa: BLE001 - shown to the user, the window lives on
                self._inference_failed(candidate, exc)
                continue
            if candidate is self._pending:
                self.segmenter, self._pending = candidate, None
            composed = replace(composed, ready_at=time.monotonic())
            self.inference_rate.tick()
            self.results.put(composed)

    def _compose(self, segmenter: Segmenter, frame: Frame) -> Composed:
        """Infer, smooth with this stream's past (history dropped when the model or size
        changes), compose."""
        masks, smoother = self.masks, self._smoother
        result = segmenter.infer(frame)
        if segmenter is not self._smoothed_for:
            smoother.reset()
            self._smoothed_for = segmenter
        t0 = time.perf_counter()
        (result,) = smoother.push(result)
        result = replace(result, timings={**result.timings, "smooth": time.perf_counter() - t0})
        return segmenter.compose(result, self._style_for(segmenter), masks.refine)

    def _warm_up(self, segmenter: Segmenter, frame: Frame) -> bool:
        """Builds the model's graph for a new frame size here, before the first such frame
        is shown; True if it did (which took seconds).

        Built in the background instead, the trace holds Python's GIL in long stretches, and
        the eager model it overlaps (one GIL hand-over per layer) slowed to 600-700 ms a frame
        for 2-3 s: shown frames far older than the live bound. Building first, the capture
        thread keeps dropping stale frames meanwhile, and the first frame shown is fresh.
        """
        height, width = frame.bgr.shape[:2]
        if segmenter.is_warm(height, width):
            return False
        self.on_notice(f"preparing {segmenter.spec.name} for {width}x{height} frames")
        segmenter.warm_up(height, width, wait=True)
        return True

    def _style_for(self, segmenter: Segmenter) -> OverlayStyle | Effect:
        spec = segmenter.spec  # a model swap changes the classes
        return for_model(self.style, spec.num_classes, spec.background, spec.palette)

    def _inference_failed(self, candidate: Segmenter, exc: BaseException) -> None:
        if candidate is self._pending:
            self._pending = None
            self.on_error(f"model {candidate.spec.name} failed ({describe(exc)}); "
                          f"kept {self.segmenter.spec.name}", False)
        else:
            self.on_error(f"inference failed: {describe(exc)}", False)
        time.sleep(ERROR_BACKOFF_S)

    def _shrink_after_oom(self, seg: Segmenter) -> None:
        """CUDA out of memory: three quarters of the size, then the CPU, and say so."""
        if seg.device.type == "cuda":
            torch.cuda.empty_cache()
        smaller = int(seg.size * 0.75) // seg.spec.size_multiple * seg.spec.size_multiple
        try:
            inference_size(smaller, smaller, smaller, seg.spec.size_multiple)
            fallback = seg.with_size(smaller)
            message = f"out of memory at size {seg.size}; now {smaller}"
        except LivesegmentError:
            model = seg.model.to("cpu", dtype=torch.float32)
            fallback = Segmenter(seg.spec, model, torch.device("cpu"), seg.spec.default_size)
            message = "out of GPU memory at the smallest size; switched to the CPU"
        if seg is self._pending:
            self._pending = fallback
        else:
            self.segmenter = fallback
        self.on_notice(message)
