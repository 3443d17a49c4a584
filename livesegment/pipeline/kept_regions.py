"""Objects clicked in the live view that the model has no class for, kept in front of the
effect: selected on the clicked frame, carried along the following frames on a thread of
their own, the newest mask handed to the compose stage.

Live must never lag the camera, so nothing here runs on the composer: it only offers each
frame (a newest-wins slot, never waited on) and reads the newest union of the regions (one
reference). The work is bounded: on a small copy (long side ``WORK_SIDE``), at most
``STEPS_PER_S`` steps a second, at a priority below the model workers'. Measured on the six
DAVIS 2016 sequences at 720p, the object clicked once on the first frame and followed over
24 frames (benchmarks/keep_region.py, one run on a loaded 2-core machine): carrying the mask
(optical flow + a re-cut) on a 320 px copy took 22 ms a step at mean IoU 0.49 (the click's
own selection: 0.51), on 480 px 50 ms at 0.37, on the 720p frame 74 ms at 0.37; selecting
afresh each frame at the click's point 154 ms at 0.38 (the point does not follow the object).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np

from livesegment.core.frames import Frame
from livesegment.core.select.grabcut import shrink
from livesegment.core.select.selector import Selector
from livesegment.core.select.tracking import Appearance, carry
from livesegment.errors import describe
from livesegment.pipeline.slots import LatestFrameSlot
from livesegment.pipeline.thread_setup import WORKER_NICE, lower_priority

WORK_SIDE = 320  # long side of the copy regions are selected on and carried along
STEPS_PER_S = 10.0  # at most this many carrying steps a second: the model needs the cores
NICE = WORKER_NICE + 5  # below the model workers too: the person's mask comes first
MOST = 0.5  # a selection covering more of the frame than this is the background itself
DOUBT = 0.25  # a step's confidence (core/select/tracking.py) below this is a doubtful one
LOST_AFTER = 3  # ... and this many doubtful steps in a row: the object has gone
JOIN_TIMEOUT_S = 1.0

KEEPING = "keeping the clicked region"
RELEASED = "released the clicked region"
LOST = "lost the clicked region (it left the picture)"
TOO_BIG = "the clicked region is most of the picture: not kept"
NOTHING = "found no object at the click: nothing kept"


@dataclass(frozen=True, eq=False)
class Region:
    """One kept object: its mask on the small copy of the frame it was last carried to, that
    copy (the next step's flow starts from it), and its colours on the clicked frame."""

    number: int
    mask: np.ndarray  # bool, the small copy's size
    picture: np.ndarray  # the small copy
    captured_at: float
    looks: Appearance
    doubtful: int = 0  # doubtful steps in a row


class KeptRegions:
    """The clicked regions of a live stream. ``on_change(message)`` hears what happened to
    them (kept, lost, refused), from the regions' thread; the GUI swaps in its own callable.
    :meth:`step` and :meth:`select_now` are the thread's work, callable directly (tests)."""

    def __init__(self, on_change: Callable[[str], None] = lambda m: None, *,
                 side: int = WORK_SIDE, steps_per_s: float = STEPS_PER_S) -> None:
        self.on_change = on_change
        self.side, self.steps_per_s = side, steps_per_s
        self._regions: tuple[Region, ...] = ()
        self._union: np.ndarray | None = None  # full frame size, uint8 255 = kept
        self._clicks: list[tuple[Frame, int, int, int]] = []  # and the clearing they follow
        self._cleared = 0  # how many times everything was released
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._frames: LatestFrameSlot[Frame] = LatestFrameSlot()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the compose stage (never waits) -------------------------------------------------------
    def offer(self, frame: Frame) -> None:
        """The newest frame, for the regions to be carried to (dropped when nothing is kept)."""
        if self._regions or self._clicks:
            self._frames.put(frame)

    def region_for(self, shape: tuple[int, ...]) -> np.ndarray | None:
        """The newest union of the kept regions (HxW uint8, 255 = kept) for a frame of
        ``shape``; None when nothing is kept or the regions are another size's."""
        union = self._union
        return union if union is not None and union.shape == tuple(shape[:2]) else None

    # -- the user's clicks (any thread) ------------------------------------------------------
    @property
    def count(self) -> int:
        return len(self._regions)

    def select(self, frame: Frame, x: int, y: int) -> None:
        """Selects the object under (``x``, ``y``) of ``frame`` on the regions' thread; the
        answer comes through ``on_change``."""
        with self._lock:
            self._clicks.append((frame, x, y, self._cleared))
        self._frames.put(frame)  # wakes the thread
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="livesegment-kept-regions",
                                            daemon=True)
            self._thread.start()

    def release_at(self, x: int, y: int, shape: tuple[int, ...]) -> bool:
        """Releases the newest region holding the frame pixel (``x``, ``y``) of a frame of
        ``shape``; False when no region holds it."""
        with self._lock:
            for region in reversed(self._regions):  # as shown: each at the frame's size
                if union_at((region.mask,), shape[:2])[y, x]:
                    self._publish(tuple(r for r in self._regions if r is not region), shape)
                    return True
        return False

    def clear(self) -> None:
        """Releases every region (and drops selections not yet made)."""
        with self._lock:
            self._clicks.clear()
            self._cleared += 1
            self._regions, self._union = (), None

    def stop(self) -> None:
        self._stop.set()
        self._frames.close()
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT_S)

    # -- the regions' thread ---------------------------------------------------------------
    def _run(self) -> None:
        lower_priority(NICE)  # the composer, capture and model come first
        while not self._stop.is_set():
            frame = self._frames.take(timeout=0.1)
            with self._lock:
                clicks, self._clicks = self._clicks, []
            try:
                for clicked, x, y, cleared in clicks:
                    said = self.select_now(clicked, x, y, cleared)
                    if said:
                        self.on_change(said)
                if frame is not None:
                    started = time.monotonic()
                    self.step(frame)
                    self._stop.wait(started + 1 / self.steps_per_s - time.monotonic())
            except Exception as exc:  # noqa: BLE001 - said to the user; the live view goes on
                self.clear()
                self.on_change(f"keeping the clicked region failed: {describe(exc)}")

    def select_now(self, frame: Frame, x: int, y: int, cleared: int | None = None) -> str:
        """Selects the object under the click on ``frame`` and keeps it; what happened, in
        words for the status line. A click made before everything was released since
        (``cleared`` behind the count) is dropped silently: the user already took it back."""
        small, scale = shrink(frame.bgr, self.side)
        h, w = small.shape[:2]
        selector = Selector(None)  # on background the model's classes add nothing
        selector.set_image(small)
        mask = selector.predict([(min(x * scale, w - 1), min(y * scale, h - 1), True)])
        if mask.mean() > MOST:
            return TOO_BIG
        if not mask.any():
            return NOTHING
        region = Region(next(self._numbers), mask, small, frame.captured_at,
                        Appearance(small, mask))
        with self._lock:
            if cleared is not None and cleared != self._cleared:
                return ""
            self._publish((*self._regions, region), frame.bgr.shape)
        return KEEPING

    def step(self, frame: Frame) -> None:
        """Carries every region to ``frame`` (a region already there or past it stays); a
        region whose mask comes out empty, or whose steps were doubtful ``LOST_AFTER`` times
        in a row (the object left or hid: the carried mask would stick to the background),
        is dropped and said to be lost. A frame of another size than the regions' (a new
        source) drops them all."""
        with self._lock:
            regions = self._regions
        if not regions:
            return
        small, _ = shrink(frame.bgr, self.side)
        carried, lost = [], 0
        for region in regions:
            if region.picture.shape != small.shape:
                lost += 1
                continue
            if region.captured_at >= frame.captured_at:
                carried.append(region)
                continue
            mask, confidence = carry(region.picture, small, region.mask, region.looks)
            doubtful = region.doubtful + 1 if confidence < DOUBT else 0
            if mask.any() and doubtful < LOST_AFTER:
                carried.append(replace(region, mask=mask, picture=small,
                                       captured_at=frame.captured_at, doubtful=doubtful))
            else:
                lost += 1
        with self._lock:  # released or cleared meanwhile: stays so; selected meanwhile: stays
            now = {r.number for r in self._regions}
            kept = [r for r in carried if r.number in now]
            known = {r.number for r in regions}
            kept += [r for r in self._regions if r.number not in known]
            self._publish(tuple(kept), frame.bgr.shape)
        if lost:
            self.on_change(LOST)

    def _publish(self, regions: tuple[Region, ...], shape: tuple[int, ...]) -> None:
        """Keeps ``regions`` and their union at the frame's size (caller holds the lock)."""
        self._regions = regions
        self._union = union_at(tuple(r.mask for r in regions), shape[:2]) if regions else None


def union_at(masks: tuple[np.ndarray, ...], size: tuple[int, int]) -> np.ndarray:
    """The union of same-size bool masks, enlarged to ``size`` (h, w) as uint8 255 = kept:
    bilinear then halfway, so the edge is no blockier than the small copy's."""
    both = np.logical_or.reduce(masks).view(np.uint8) * np.uint8(255)
    height, width = size
    if both.shape != (height, width):
        both = cv2.resize(both, (width, height), interpolation=cv2.INTER_LINEAR)
        cv2.threshold(both, 127, 255, cv2.THRESH_BINARY, dst=both)
    return both
