"""OpenCV's GrabCut as the selector's colour model, and plain GrabCut as the baseline.

GrabCut (Rother et al. 2004) fits a colour mixture to the object and one to the rest and cuts
the picture along its edges between them. It runs on a small copy of the picture: on the
full 481x321 GrabCut pictures its two passes took ~0.46 s a click on a busy 2-core CPU, on a
240 px copy ~0.08 s (BENCHMARKS.md); the answer is brought back to full size by the caller. :class:`PlainGrabCut` is what the issue compares
against: the same clicks as definite seeds, the previous mask as "probably object", no other
cue.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from livesegment.core.select.prompts import Click, checked_picture, checked_prompts

SEED_RADIUS = 5  # full-resolution pixels around a click taken as certain
ITERATIONS = 2  # GrabCut's re-estimations per answer (each a graph cut)
WORK_SIDE = 240  # long side of the copy the graph cut runs on


def shrink(bgr: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """The picture with its long side at most ``side`` (area-averaged), and the scale."""
    scale = min(1.0, side / max(bgr.shape[:2]))
    if scale == 1.0:
        return bgr, 1.0
    size = (max(1, round(bgr.shape[1] * scale)), max(1, round(bgr.shape[0] * scale)))
    return cv2.resize(bgr, size, interpolation=cv2.INTER_AREA), scale


def cut(small: np.ndarray, seeds: np.ndarray, iterations: int = ITERATIONS) -> np.ndarray:
    """GrabCut from a ``GC_*`` seed map: bool object mask. With no object or no background
    seed there is nothing to fit a colour model to, and the seeds are the answer."""
    odd = (seeds & 1).astype(bool)  # GC_FGD (1) and GC_PR_FGD (3)
    if odd.all() or not odd.any():
        return odd
    work = seeds.copy()
    cv2.setRNGSeed(0)  # GrabCut's k-means starts from OpenCV's RNG: same clicks, same mask
    cv2.grabCut(small, work, None, np.zeros((1, 65)), np.zeros((1, 65)), iterations,
                cv2.GC_INIT_WITH_MASK)
    return (work & 1).astype(bool)


def stamp(seeds: np.ndarray, clicks: Sequence[Click], scale: float, radius: float,
          origin: tuple[int, int] = (0, 0)) -> None:
    """Each click as a certain disk (object or background) in a seed map at ``scale``,
    whose top-left corner is ``origin`` (x, y) of the full picture."""
    r = max(1, round(radius * scale))
    for c in clicks:
        x, y = round((c.x - origin[0]) * scale), round((c.y - origin[1]) * scale)
        if 0 <= x < seeds.shape[1] and 0 <= y < seeds.shape[0]:
            cv2.circle(seeds, (x, y), r, cv2.GC_FGD if c.include else cv2.GC_BGD, -1)


def resize_mask(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """A bool mask at ``width`` x ``height``: bilinear then halfway when it grows, the
    nearest pixel when it shrinks (cheap, and seeds need no more)."""
    if mask.shape == (height, width):
        return mask.copy()
    if width <= mask.shape[1] and height <= mask.shape[0]:
        return cv2.resize(mask.view(np.uint8), (width, height),
                          interpolation=cv2.INTER_NEAREST).astype(bool)
    up = cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    return up >= 0.5


class PlainGrabCut:
    """The baseline: clicks as certain seeds, the previous mask as probable object, the rest
    probable background, GrabCut on a copy whose long side is ``side`` (0: full size)."""

    def __init__(self, side: int = WORK_SIDE, iterations: int = ITERATIONS) -> None:
        self.side, self.iterations = side, iterations
        self._bgr: np.ndarray | None = None
        self._small = np.zeros((0, 0, 3), np.uint8)
        self._scale = 1.0

    def set_image(self, bgr: np.ndarray) -> None:
        self._bgr = checked_picture(bgr)
        self._small, self._scale = shrink(self._bgr, self.side) if self.side else (self._bgr, 1.0)

    def predict(self, clicks: Sequence, box: object = None,
                previous: np.ndarray | None = None) -> np.ndarray:
        clicks, region, previous = checked_prompts(self._bgr, clicks, box, previous)
        height, width = self._bgr.shape[:2]
        seeds = np.full(self._small.shape[:2], cv2.GC_PR_BGD, np.uint8)
        if region is not None:  # GrabCut's own rectangle: outside certain, inside probable
            x0, y0, x1, y1 = (round(v * self._scale) for v in region)
            seeds[:] = cv2.GC_BGD
            seeds[y0:y1, x0:x1] = cv2.GC_PR_FGD
        if previous is not None:
            small_prev = resize_mask(previous, *self._small.shape[1::-1])
            seeds[small_prev] = cv2.GC_PR_FGD
        stamp(seeds, clicks, self._scale, SEED_RADIUS)
        return resize_mask(cut(self._small, seeds, self.iterations), width, height)
