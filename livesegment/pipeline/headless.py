"""Live mode without a window: the newest composed frame goes to sinks (a virtual camera, a
recording), a status line reports the pace, and a stop flag, a time limit or the end of a file
source ends the run cleanly.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from livesegment.core.frames import Composed
from livesegment.errors import LivesegmentError
from livesegment.pipeline.live import LivePipeline, LiveStats
from livesegment.pipeline.recorder import Recorder
from livesegment.pipeline.stats import RateMeter
from livesegment.pipeline.virtualcam import VirtualCameraFeed

POLL_S = 0.02
END_GRACE_S = 1.0  # after a file source ends: quiet this long means the last frame is out


@dataclass(frozen=True)
class HeadlessStatus:
    """What the status line shows: the pipeline's figures and the pace of delivered frames."""

    live: LiveStats
    delivered_fps: float
    delivered: int
    elapsed_s: float


@dataclass(frozen=True)
class HeadlessReport:
    delivered: int  # composed frames handed to the sinks
    dropped: int  # camera frames the model never saw (newest wins)
    elapsed_s: float
    reason: str  # "stopped", "duration" or "end of source"


def run_headless(pipeline: LivePipeline, sinks: Sequence[Callable[[Composed], None]],
                 stop: threading.Event, ended: threading.Event,
                 duration_s: float | None = None,
                 on_status: Callable[[HeadlessStatus], None] = lambda status: None,
                 status_every_s: float = 1.0) -> HeadlessReport:
    """Hands each new composed frame to every sink until ``stop``, ``duration_s`` or
    ``ended`` (set by the pipeline's ``on_end``); the caller stops the pipeline after. A run
    that reaches its time limit or its source's end without one frame (the model workers could
    not start, the source gave none) is an error, never a success without output."""
    rate = RateMeter()
    delivered = 0
    start = time.monotonic()
    next_status = start + status_every_s
    last_news = start  # the latest delivery, or the moment the source ended
    ended_seen = False
    reason = "stopped"
    while not stop.is_set():
        now = time.monotonic()
        if duration_s is not None and now - start >= duration_s:
            reason = "duration"
            break
        if ended.is_set() and not ended_seen:
            ended_seen, last_news = True, now
        if ended_seen and now - last_news > END_GRACE_S:
            reason = "end of source"
            break
        composed = pipeline.results.take(timeout=POLL_S)
        if composed is not None:
            last_news = time.monotonic()
            for sink in sinks:
                sink(composed)
            delivered += 1
            rate.tick()
        if now >= next_status:
            on_status(HeadlessStatus(pipeline.stats(), rate.rate(), delivered, now - start))
            next_status = now + status_every_s
    elapsed = time.monotonic() - start
    if delivered == 0 and reason != "stopped":  # a success without output is a failure
        ending = "the time limit" if reason == "duration" else "the source ended"
        raise LivesegmentError(f"no frame was composed in {elapsed:.1f} s before {ending} "
                               f"({pipeline.frames.dropped} source frames went unprocessed); "
                               "nothing was sent or recorded")
    return HeadlessReport(delivered, pipeline.frames.dropped, elapsed, reason)


def status_line(status: HeadlessStatus, extra: str = "") -> str:
    """``live:  24.1 fps shown (source 30.0), model 25.3 fps x2, latency  104 ms, 28
    dropped, espnetv2-voc on cpu at 256 | ...``; at the camera's pace the mask's age too."""
    s = status.live
    mask = f", mask {s.mask_age_ms:4.0f} ms old" if s.pace == "camera" else ""
    line = (f"live: {status.delivered_fps:5.1f} fps shown (source {s.capture_fps:4.1f}), "
            f"model {s.inference_fps:4.1f} fps x{s.workers}, "
            f"latency {s.ready_latency_ms:4.0f} ms{mask}, {s.dropped} dropped, "
            f"{s.model} on {s.device} at {s.size_label}")
    return f"{line} | {extra}" if extra else line


@dataclass(frozen=True)
class VirtualCameraRequest:
    """Which virtual camera to feed: ``device``/``backend`` ``None`` for the first that works."""

    fps: float
    device: str | None = None
    backend: str | None = None
    on_demand: bool = False


class LiveSinks:
    """A recording and/or a virtual camera, opened on the first frame (whose size they need).

    A sink that cannot open or fails later calls ``on_failure`` once; the owner stops the run.
    """

    def __init__(self, record_to: Path | None, camera: VirtualCameraRequest | None,
                 on_failure: Callable[[str], None],
                 on_opened: Callable[[str], None] = lambda message: None,
                 on_watched: Callable[[bool], None] = lambda watched: None) -> None:
        self.record_to, self.camera = record_to, camera
        self.on_failure, self.on_opened, self.on_watched = on_failure, on_opened, on_watched
        self.recorder: Recorder | None = None
        self.feed: VirtualCameraFeed | None = None
        self.failed = False

    def __call__(self, composed: Composed) -> None:
        if self.failed:
            return
        height, width = composed.image.shape[:2]
        try:
            self._open(width, height)
        except LivesegmentError as exc:
            self.fail(str(exc))
            return
        if self.feed is not None:
            self.feed.offer(composed.image)
        if self.recorder is not None:
            self.recorder.add(composed.image, composed.frame.captured_at)

    def _open(self, width: int, height: int) -> None:
        if self.recorder is None and self.record_to is not None:
            self.recorder = Recorder(self.record_to, width, height)
        if self.feed is None and self.camera is not None:
            from livesegment.io.virtualcam import VirtualCamera

            req = self.camera
            device = VirtualCamera(width, height, req.fps, req.device, req.backend)
            self.feed = VirtualCameraFeed(device, req.on_demand, self.on_watched, self.fail)
            self.on_opened(f"sending {width}x{height} at {req.fps:g} fps to virtual camera "
                           f"{device.device} ({device.backend})")

    def fail(self, message: str) -> None:
        if not self.failed:
            self.failed = True
            self.on_failure(message)

    def close(self) -> Path | None:
        """Stops the feed and finishes the recording; returns the file, if one was written."""
        if self.feed is not None:
            self.feed.close()
        if self.recorder is None:
            return None
        try:
            return self.recorder.stop()
        except RuntimeError:  # nothing was recorded
            return None
