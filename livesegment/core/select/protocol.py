"""The field's click protocol for interactive segmentation, as pure functions.

A simulated user clicks at the centre of the largest wrong region (the point farthest from
its edge): an include click in a missed area, an exclude click in a false one, up to a limit.
NoC@t is the number of clicks until IoU first reaches t (the limit when it never does), as
reported for the GrabCut, Berkeley and DAVIS sets since Xu et al. 2016. Pixels marked
"don't count" (GrabCut's uncertain band) count neither in the IoU nor as errors.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from livesegment.core.select.prompts import Click

MAX_CLICKS = 20
THRESHOLDS = (0.85, 0.90)


class Promptable(Protocol):
    """What the protocol drives: the :class:`Selector`, plain GrabCut, any other engine."""

    def set_image(self, bgr: np.ndarray) -> None: ...

    def predict(self, clicks: Sequence[Click], box: object = None,
                previous: np.ndarray | None = None) -> np.ndarray: ...


@dataclass(frozen=True)
class ClickTrace:
    """One picture's run: the IoU after each click and the seconds each answer took."""

    name: str
    ious: tuple[float, ...]
    seconds: tuple[float, ...]

    def clicks_to(self, threshold: float, max_clicks: int = MAX_CLICKS) -> int:
        """Clicks until the IoU first reached ``threshold``; ``max_clicks`` if it never did."""
        return next((n for n, v in enumerate(self.ious, 1) if v >= threshold), max_clicks)


@dataclass(frozen=True)
class ClickScores:
    """A run over many pictures: NoC per threshold and the time per click."""

    traces: tuple[ClickTrace, ...]
    max_clicks: int = MAX_CLICKS

    def noc(self, threshold: float) -> float:
        """Mean number of clicks to reach ``threshold`` (NoC@85 for 0.85)."""
        return float(np.mean([t.clicks_to(threshold, self.max_clicks) for t in self.traces]))

    def failures(self, threshold: float) -> int:
        """Pictures that never reached ``threshold`` within the limit."""
        return sum(all(v < threshold for v in t.ious) for t in self.traces)

    @property
    def seconds(self) -> np.ndarray:
        return np.array([s for t in self.traces for s in t.seconds])


def iou(predicted: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> float:
    """Intersection over union of two bool masks over the ``valid`` pixels (1.0 when both
    are empty there)."""
    union = np.count_nonzero((predicted | truth) & valid)
    return 1.0 if union == 0 else np.count_nonzero(predicted & truth & valid) / union


def next_click(predicted: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> Click | None:
    """The simulated user's next click: the interior-most point of the largest wrong region,
    including for a miss, excluding for a false area; None when nothing is wrong."""
    best: tuple[int, np.ndarray, bool] | None = None
    for wrong, include in ((truth & ~predicted & valid, True), (predicted & ~truth & valid, False)):
        count, labels, stats, _ = cv2.connectedComponentsWithStats(wrong.view(np.uint8), 8)
        if count < 2:
            continue
        k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        if best is None or stats[k, cv2.CC_STAT_AREA] > best[0]:
            best = (int(stats[k, cv2.CC_STAT_AREA]), labels == k, include)
    if best is None:
        return None
    # The picture's border counts as the region's edge (padding with "not in it").
    region = np.pad(best[1], 1).view(np.uint8)
    depth = cv2.distanceTransform(region, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return Click(float(x), float(y), best[2])


def run_clicks(selector: Promptable, bgr: np.ndarray, truth: np.ndarray, valid: np.ndarray,
               name: str = "", max_clicks: int = MAX_CLICKS,
               stop_at: float = max(THRESHOLDS),
               clock: Callable[[], float] = time.perf_counter) -> ClickTrace:
    """One picture under the protocol: clicks accumulate, each answer is the next call's
    ``previous``; it stops once the IoU reaches ``stop_at`` (later clicks change no NoC)."""
    selector.set_image(bgr)
    clicks: list[Click] = []
    predicted = np.zeros(truth.shape, bool)
    previous = None
    ious: list[float] = []
    seconds: list[float] = []
    for _ in range(max_clicks):
        click = next_click(predicted, truth, valid)
        if click is None:  # nothing left to correct: a perfect mask stays perfect
            ious.append(1.0)
            break
        clicks.append(click)
        start = clock()
        predicted = selector.predict(clicks, previous=previous)
        seconds.append(clock() - start)
        previous = predicted
        ious.append(iou(predicted, truth, valid))
        if ious[-1] >= stop_at:
            break
    return ClickTrace(name, tuple(ious), tuple(seconds))


def score_clicks(selector: Promptable,
                 pictures: Iterable[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
                 max_clicks: int = MAX_CLICKS, stop_at: float = max(THRESHOLDS)
                 ) -> ClickScores:
    """The protocol over ``(name, bgr, truth, valid)`` pictures."""
    return ClickScores(tuple(run_clicks(selector, bgr, truth, valid, name, max_clicks, stop_at)
                             for name, bgr, truth, valid in pictures), max_clicks)
