"""Live mode: capture -> newest-frame slot -> N model workers -> in-order slot -> composer.

Nothing queues behind the model: when it is slower than the camera, frames are dropped (and
counted) rather than delayed. Several workers each take the newest frame, so a CPU whose one
frame leaves cores idle keeps two frames in flight; their results go through an in-order slot
that refuses one finished after a newer one (counted as late), so what is shown never goes
back in time. The workers only run the model: smoothing, labels at full resolution,
refinement, the effect and the blend run on the composer thread, overlapped with them.

Two paces (``LIVE_PACES``):
* ``newest``: each model result is composed and shown; the display runs at the model's rate.
* ``camera``: every camera frame is composed with the newest mask (OBS computes its mask every
  N frames the same way); the display runs at the camera's rate and ``mask_age_s`` says how
  much older the mask's frame is.

The front end (the Qt window, headless sinks) polls :meth:`LivePipeline.latest`. Threads stop
by a flag and are joined; nothing is killed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from livesegment.core.models.catalog import LIVE_PACES
from livesegment.core.compose.effects import Effect, for_model, keep_region, render
from livesegment.core.frames import Composed, Frame, Inference
from livesegment.core.compose.overlay import OverlayStyle
from livesegment.core.masks.preprocess import inference_size
from livesegment.core.segmenter import Segmenter, mask_labels
from livesegment.core.masks.smoothing import MASKS_OFF, MaskOptions, TemporalSmoother
from livesegment.errors import InputError, LivesegmentError, describe, first_line
from livesegment.io.live_source import LiveSource
from livesegment.pipeline.kept_regions import KeptRegions
from livesegment.pipeline.pace import AutoSize, auto_sizes, live_workers, threads_per_worker
from livesegment.pipeline.slots import InOrderSlot, LatestFrameSlot
from livesegment.pipeline.stats import RateMeter
from livesegment.pipeline.thread_setup import WORKER_NICE, lower_priority, meet, set_own_threads

JOIN_TIMEOUT_S = 1.0
ERROR_BACKOFF_S = 0.2  # after a failed inference, so a broken model does not spin a core
Result = tuple[Inference, Segmenter]  # a model result and the segmenter that made it


@dataclass(frozen=True)
class LiveStats:
    capture_fps: float
    inference_fps: float
    dropped: int  # camera frames no worker took (newest wins)
    ready_latency_ms: float  # capture -> composed frame ready, newest frame
    model: str
    device: str
    size: int
    workers: int = 1
    display_fps: float = 0.0  # composed frames a second: what a display can show
    mask_age_ms: float = 0.0  # newest composed frame: its mask's picture's age when ready
    late: int = 0  # results finished after a newer one, never shown
    pace: str = "newest"
    auto_size: bool = False

    @property
    def size_label(self) -> str:
        """The inference size as readouts show it: ``256``, or ``auto 192`` under "auto"."""
        return f"auto {self.size}" if self.auto_size else f"{self.size}"


@dataclass(frozen=True, eq=False)
class LiveMask:
    """The newest mask at full resolution, kept to paint later camera frames (camera pace)."""

    frame: Frame
    labels: torch.Tensor
    labels_np: np.ndarray
    segmenter: Segmenter
    timings: dict[str, float]


class LivePipeline:
    """Owns the capture, model and composer threads and the slots between them.

    ``workers``: frames in the model at once (default: :func:`live_workers`); ``threads``:
    torch threads per worker (default: torch's own); ``auto_size``: pick the largest size that
    keeps up with the camera (:class:`AutoSize`). ``on_error(message, retryable)`` and
    ``on_notice(message)`` are called from worker threads: the GUI passes callables that queue
    the call onto its own thread.
    """

    def __init__(self, segmenter: Segmenter, style: OverlayStyle | Effect,
                 on_error: Callable[[str, bool], None] = lambda m, r: None,
                 on_notice: Callable[[str], None] = lambda m: None,
                 on_end: Callable[[], None] = lambda: None,
                 masks: MaskOptions = MASKS_OFF, *, workers: int | None = None,
                 threads: int | None = None, pace: str = "newest",
                 auto_size: bool = False) -> None:
        self._mask: LiveMask | None = None
        self.set_pace(pace)
        self.segmenter = segmenter
        self.style = style
        self.masks = masks
        self.workers = workers or live_workers(segmenter.device.type, backend=segmenter.backend)
        self.threads_per_worker = threads or threads_per_worker(self.workers)
        self._smoother = TemporalSmoother(masks.smoothing)  # past only: live has no future
        self._smoothed_for: Segmenter | None = None
        self._auto = self._auto_size(segmenter) if auto_size else None
        self.on_error, self.on_notice, self.on_end = on_error, on_notice, on_end
        self.kept = KeptRegions(on_notice)  # clicked objects kept in front of the effect
        self.frames: LatestFrameSlot[Frame] = LatestFrameSlot()  # to the model workers
        self.camera: LatestFrameSlot[Frame] = LatestFrameSlot()  # to the composer (camera pace)
        self.inferences: InOrderSlot[Result] = InOrderSlot(lambda r: r[0].frame.captured_at)
        self.results: LatestFrameSlot[Composed] = LatestFrameSlot()
        self.capture_rate, self.inference_rate = RateMeter(), RateMeter()
        self.display_rate = RateMeter()
        self._pending: Segmenter | None = None
        self._lock = threading.Lock()  # model swaps and the size policy
        self._build_lock = threading.Lock()  # one graph build at a time, the others wait
        self._building = threading.Event()
        self._source: LiveSource | None = None
        self._capture: threading.Thread | None = None
        self._capture_stop = threading.Event()
        self._stop = threading.Event()
        self._paused = threading.Event()
        threads_set = threading.Barrier(self.workers + 2)
        self._workers = [threading.Thread(target=self._infer_loop, args=(threads_set,),
                                          name=f"livesegment-infer-{i}")
                         for i in range(self.workers)]
        self._composer = threading.Thread(target=self._compose_loop, args=(threads_set,),
                                          name="livesegment-compose")
        before = torch.get_num_threads()
        try:
            for thread in (*self._workers, self._composer):
                thread.start()
        except RuntimeError as exc:  # "can't start new thread": the system's limit is reached
            threads_set.abort()  # the started ones stop waiting, see the flag and end
            self.stop()
            torch.set_num_threads(before)
            raise InputError(f"cannot start {self.workers} model workers with "
                             f"{self.threads_per_worker} threads each ({first_line(exc)}); "
                             "ask for fewer") from None
        meet(threads_set)
        torch.set_num_threads(before)  # the workers keep theirs; the rest of the process its own

    # -- control (any thread) -------------------------------------------------------------
    def set_source(self, source: LiveSource | None) -> None:
        """Stops the current capture (joining it) and starts reading ``source``."""
        self._stop_capture()
        self._source = source
        self.kept.clear()  # the regions were the old picture's
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
        """Takes effect on the next frame; if it fails there, the current model stays. A
        new model under "auto" size starts its own size search."""
        with self._lock:
            self._pending = segmenter
            if self._auto is not None and segmenter.spec is not self.segmenter.spec:
                self._auto = self._auto_size(segmenter)

    def set_auto_size(self, on: bool) -> None:
        """Turns the "auto" size search on (from the current size) or off (size stays)."""
        with self._lock:
            self._auto = self._auto_size(self._pending or self.segmenter) if on else None

    def set_style(self, style: OverlayStyle | Effect) -> None:
        """Immutable swap: the next frame uses it whole (no restart)."""
        self.style = style

    def set_masks(self, masks: MaskOptions) -> None:
        """Smoothing strength and refinement for the next frame; a new strength starts the
        smoothing history afresh."""
        if masks.smoothing != self.masks.smoothing:
            self._smoother = TemporalSmoother(masks.smoothing)
        self.masks = masks

    def set_pace(self, pace: str) -> None:
        """``newest`` (each model result) or ``camera`` (every camera frame, newest mask)."""
        if pace not in LIVE_PACES:
            raise ValueError(f"unknown pace '{pace}' (choose from {', '.join(LIVE_PACES)})")
        self._mask = None
        self.pace = pace

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
                         seg.size, self.workers, self.display_rate.rate(),
                         (ready + newest.mask_age_s) * 1e3 if newest else 0.0,
                         self.inferences.late,
                         self.pace, self._auto is not None)

    def threads(self) -> list[threading.Thread]:
        every = (self._capture, *self._workers, self._composer)
        return [t for t in every if t is not None and t.is_alive()]

    def stop(self) -> None:
        """Stops and joins every thread and releases the source; safe to call twice."""
        self._stop.set()
        for slot in (self.frames, self.camera, self.inferences):
            slot.close()
        self._stop_capture()
        self.kept.stop()
        for thread in (*self._workers, self._composer):
            if thread.ident is not None:  # started (a failed start leaves some that never were)
                thread.join(JOIN_TIMEOUT_S)

    # -- capture ----------------------------------------------------------------------------
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
            if self.pace == "camera":
                self.camera.put(frame)

    # -- model workers ------------------------------------------------------------------------
    def _infer_loop(self, threads_set: threading.Barrier) -> None:
        if not self._stage_ready(threads_set, "a model worker", nice=WORKER_NICE):
            return
        sibling: dict[int, Segmenter] = {}
        while not self._stop.is_set():
            frame = self.frames.take(timeout=0.1)
            if frame is None or self._paused.is_set():
                continue
            candidate = self._pending or self.segmenter
            own = self._own(candidate, sibling)
            try:
                if self._warm_up(candidate, frame):
                    continue  # this frame went stale during the build; take a fresh one
                result = own.infer(frame)
            except torch.OutOfMemoryError:
                self._shrink_after_oom(candidate)
                continue
            except Exception as exc:  # noqa: BLE001 - shown to the user, the window lives on
                self._inference_failed(candidate, exc)
                continue
            self.inference_rate.tick()
            self._promote(candidate, result)
            self.inferences.put((result, candidate))

    def _stage_ready(self, threads_set: threading.Barrier, stage: str, nice: int = 0) -> bool:
        """Sets up the calling stage's threads and meets the others; a stage that cannot
        (OpenMP refusing the thread count) says so through ``on_error`` instead of dying
        silently, which left a run delivering nothing and ending as if all went well."""
        try:
            set_own_threads(self.threads_per_worker)
            if nice:
                lower_priority(nice)
        except Exception as exc:  # noqa: BLE001 - reported; the run stops on it
            self.on_error(f"{stage} could not start: {first_line(exc)}", False)
            return False
        finally:
            meet(threads_set)
        return True

    @staticmethod
    def _own(candidate: Segmenter, sibling: dict[int, Segmenter]) -> Segmenter:
        """The segmenter a worker runs: on CUDA its own sibling (each pins its own upload
        buffer); on the CPU the shared one (uploads are views of the frame, nothing to share)."""
        if candidate.device.type != "cuda":
            return candidate
        own = sibling.get(id(candidate))
        if own is None or own.model is not candidate.model:
            sibling.clear()
            own = sibling[id(candidate)] = candidate.with_size(candidate.size)
        return own

    def _promote(self, candidate: Segmenter, result: Inference) -> None:
        """A pending model that produced a result becomes the model; the size policy hears of
        the result and may ask for another size."""
        with self._lock:
            if candidate is self._pending:
                self.segmenter, self._pending = candidate, None
            if self._auto is None or candidate is not self.segmenter or self._pending:
                return
            camera_fps = self.capture_rate.rate() or self.source_fps
            busy = result.timings.get("preprocess", 0.0) + result.timings.get("infer", 0.0)
            size = self._auto.observe(candidate.size, time.monotonic(), camera_fps, busy,
                                      self.workers)
            if size is not None:
                self._pending = candidate.with_size(size)
        if size is not None:
            self.on_notice(f"auto size: {candidate.size} -> {size} (camera {camera_fps:.0f} "
                           f"fps, model {self.inference_rate.rate():.1f} fps)")

    def _warm_up(self, segmenter: Segmenter, frame: Frame) -> bool:
        """Builds the model's graph for a new frame size here, before the first such frame
        is shown; True if it did or waited for another worker to (which took seconds).

        Built in the background instead, the trace holds Python's GIL in long stretches, and
        the eager model it overlaps (one GIL hand-over per layer) slowed to 600-700 ms a frame
        for 2-3 s: shown frames far older than the live bound. Building first, the capture
        thread keeps dropping stale frames meanwhile, and the first frame shown is fresh. The
        other workers wait for the build rather than run the eager model beside it.
        """
        height, width = frame.bgr.shape[:2]
        if segmenter.is_warm(height, width) and not self._building.is_set():
            return False
        with self._build_lock:
            if segmenter.is_warm(height, width):
                return True  # another worker built it while this frame waited
            self._building.set()
            try:
                self.on_notice(f"preparing {segmenter.spec.name} for {width}x{height} frames")
                segmenter.warm_up(height, width, wait=True)
            finally:
                self._building.clear()
        return True

    def _inference_failed(self, candidate: Segmenter, exc: BaseException) -> None:
        with self._lock:
            pending_failed = candidate is self._pending
            if pending_failed:
                self._pending = None
        if pending_failed:
            self.on_error(f"model {candidate.spec.name} failed ({describe(exc)}); "
                          f"kept {self.segmenter.spec.name}", False)
        elif candidate is self.segmenter:
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
        with self._lock:
            if seg is self._pending:
                self._pending = fallback
            elif seg is self.segmenter:
                self.segmenter = fallback
            else:
                return  # another worker already shrank it
        self.on_notice(message)

    @staticmethod
    def _auto_size(segmenter: Segmenter) -> AutoSize | None:
        """The size search for this model (none for a fixed-input model)."""
        if segmenter.spec.fixed_input is not None:
            return None
        spec = segmenter.spec
        return AutoSize(auto_sizes(spec.size_multiple, spec.size_multiple * 4))

    # -- composer -----------------------------------------------------------------------------
    def _compose_loop(self, threads_set: threading.Barrier) -> None:
        # The composer gets the workers' share of the cores too. With torch's default two
        # threads beside two busy workers its OpenMP team waited on preempted threads: in the
        # window at 720p, labels + refinement took 690 ms instead of 30 and the camera-pace
        # display fell to 2.6-18.5 fps; with one thread 24.7-25.2 of the camera's 25.
        if not self._stage_ready(threads_set, "the composer"):
            return
        while not self._stop.is_set():
            try:
                composed = (self._compose_camera_frame() if self.pace == "camera"
                            else self._compose_newest())
            except Exception as exc:  # noqa: BLE001 - shown to the user, the window lives on
                self.on_error(f"composing failed: {describe(exc)}", False)
                time.sleep(ERROR_BACKOFF_S)
                continue
            if composed is not None and not self._paused.is_set():
                self.display_rate.tick()
                self.results.put(replace(composed, ready_at=time.monotonic()))

    def _compose_newest(self) -> Composed | None:
        """The newest model result, smoothed and composed with its own frame."""
        taken = self.inferences.take(timeout=0.1)
        if taken is None:
            return None
        result, segmenter = taken
        result = self._smoothed(segmenter, result)
        return segmenter.compose(result, self._style_for(segmenter, result.frame),
                                 self.masks.refine)

    def _compose_camera_frame(self) -> Composed | None:
        """The newest camera frame painted with the newest mask (taken first, if one came)."""
        frame = self.camera.take(timeout=0.1)
        taken = self.inferences.take(timeout=0)
        if taken is not None:
            self._mask = self._new_mask(*taken)
        mask = self._mask
        if frame is None or mask is None or frame.bgr.shape != mask.frame.bgr.shape:
            return None
        t0 = time.perf_counter()
        segmenter = mask.segmenter
        pixels = segmenter.upload(frame.bgr)
        with torch.inference_mode():
            image = render(self._style_for(segmenter, frame), pixels, mask.labels, frame.pts_s)
        timings = {**mask.timings, "paint": time.perf_counter() - t0}
        return Composed(frame, image, mask.labels_np, timings,
                        mask_age_s=frame.captured_at - mask.frame.captured_at)

    def _new_mask(self, result: Inference, segmenter: Segmenter) -> LiveMask:
        t0 = time.perf_counter()
        result = self._smoothed(segmenter, result)
        with torch.inference_mode():
            labels = mask_labels(result, self.masks.refine)
        timings = {**result.timings, "labels": time.perf_counter() - t0}
        return LiveMask(result.frame, labels, labels.cpu().numpy(), segmenter, timings)

    def _smoothed(self, segmenter: Segmenter, result: Inference) -> Inference:
        """Smoothed with this stream's past; the history is dropped when the model or size
        changes. Results arrive in capture order (the in-order slot), as smoothing needs."""
        smoother = self._smoother
        if segmenter is not self._smoothed_for:
            smoother.reset()
            self._smoothed_for = segmenter
        t0 = time.perf_counter()
        (result,) = smoother.push(result)
        return replace(result, timings={**result.timings, "smooth": time.perf_counter() - t0})

    def _style_for(self, segmenter: Segmenter, frame: Frame) -> OverlayStyle | Effect:
        """The look for ``frame``: adapted to the model's classes (a swap changes them), with
        the newest clicked regions kept in front. The frame is only offered to the regions'
        thread, never waited on: their mask may be a frame or two older than the picture."""
        spec = segmenter.spec
        look = for_model(self.style, spec.num_classes, spec.background, spec.palette)
        self.kept.offer(frame)
        return keep_region(look, self.kept.region_for(frame.bgr.shape))
