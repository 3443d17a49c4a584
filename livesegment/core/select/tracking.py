"""Masks that follow through a video: one accepted mask carried to the other frames.

Each step carries the mask from one frame to the next by dense optical flow (OpenCV's DIS on
a small grey copy; the flow is computed backwards, from the new frame to the old, so every new
pixel looks up where it came from and the warped mask has no holes), then re-prompts the
colour model with it: GrabCut on a small copy around the warped mask, its eroded core as
certain object, the band around its edge as "probably" either side, the rest certain
background. Flow alone drifts and smears the edge; the cut pulls the edge back onto the
picture's edges each frame (BENCHMARKS.md, "Masks that follow through a video").

Each frame gets a confidence in [0, 1]: the smaller of (a) the IoU between the warped and the
refined mask (flow and colours disagree where the object turned, hid or blurred) and (b) how
much of the mask still has the object's colours, measured against colour histograms of the
object and its surroundings taken on the accepted frame (the object left the picture). Frames
below ``threshold`` are the ones a user should look at; a correction there re-seeds from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from livesegment.core.select.grabcut import cut, resize_mask, shrink
from livesegment.core.select.prompts import checked_mask, checked_picture

FLOW_SIDE = 480  # long side of the grey copy the flow is computed on
CUT_SIDE = 320  # long side of the crop copy GrabCut re-cuts
BAND = 0.02  # the unsure band inside the carried edge: this share of the object's size
OUTSIDE = 0.01  # ... and outside it, narrower: the cut may grow the mask this far a frame
MARGIN = 0.25  # the crop around the object: this share of its size each way
THRESHOLD = 0.6  # below this confidence a frame needs a look
BINS = 16  # colour histogram bins per channel for the appearance check


@dataclass(frozen=True)
class Propagation:
    """A mask per frame, the confidence of each (1.0 on the accepted frame) and the frames
    whose confidence fell below the threshold."""

    masks: tuple[np.ndarray, ...]
    confidence: tuple[float, ...]
    threshold: float

    @property
    def needs_look(self) -> tuple[int, ...]:
        """Indices of the frames a user should check."""
        return tuple(i for i, c in enumerate(self.confidence) if c < self.threshold)


def propagate(frames: Iterable[np.ndarray], first_mask: np.ndarray, *, start: int = 0,
              refine: bool = True) -> list[np.ndarray]:
    """One HxW bool mask per frame, ``first_mask`` (the mask accepted on frame ``start``)
    carried forwards and backwards; :func:`track` adds each frame's confidence."""
    return list(track(frames, first_mask, start=start, refine=refine).masks)


def track(frames: Iterable[np.ndarray], first_mask: np.ndarray, *, start: int = 0,
          refine: bool = True, threshold: float = THRESHOLD) -> Propagation:
    """:func:`propagate` with each frame's confidence. ``refine=False`` is flow alone (the
    classical baseline)."""
    pictures, mask = _checked(frames, first_mask, start, threshold)
    looks = Appearance(pictures[start], mask)
    masks: list[np.ndarray | None] = [None] * len(pictures)
    confidence = [1.0] * len(pictures)
    masks[start] = mask.copy()
    for order in (range(start + 1, len(pictures)), range(start - 1, -1, -1)):
        step = 1 if order.step == 1 else -1
        for i in order:
            masks[i], confidence[i] = carry(pictures[i - step], pictures[i], masks[i - step],
                                            looks, refine)
    return Propagation(tuple(masks), tuple(confidence), threshold)


def _checked(frames: Iterable[np.ndarray], first_mask: np.ndarray, start: int,
             threshold: float) -> tuple[list[np.ndarray], np.ndarray]:
    """The frames (all one size) and the accepted mask as bool, or a ValueError naming the
    argument that is wrong."""
    pictures = [checked_picture(f, f"frames: frame {i}") for i, f in enumerate(frames)]
    if not pictures:
        raise ValueError("frames: expected at least one HxWx3 picture, got none")
    height, width = pictures[0].shape[:2]
    for i, p in enumerate(pictures):
        if p.shape[:2] != (height, width):
            raise ValueError(f"frames: frame {i} is {p.shape[1]}x{p.shape[0]}, "
                             f"frame 0 is {width}x{height}")
    mask = checked_mask(np.asarray(first_mask), height, width, "first_mask")
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start < len(pictures):
        raise ValueError(f"start: expected a frame index within 0..{len(pictures) - 1}, "
                         f"got {start!r}")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold: expected a confidence within [0, 1], got {threshold!r}")
    return pictures, mask


def carry(before: np.ndarray, after: np.ndarray, mask: np.ndarray, looks: Appearance,
          refine: bool = True) -> tuple[np.ndarray, float]:
    """The mask on ``before`` carried to ``after``, and the step's confidence."""
    warped = warp(before, after, mask)
    refined = recut(after, warped) if refine and warped.any() else warped
    union = np.count_nonzero(warped | refined)
    agree = 1.0 if union == 0 else np.count_nonzero(warped & refined) / union
    return refined, min(agree, looks.score(after, refined))


def flow_back(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """HxWx2 flow at ``after``'s full size: where each of its pixels was in ``before``."""
    height, width = after.shape[:2]
    small_after, scale = shrink(after, FLOW_SIDE)
    small_before, _ = shrink(before, FLOW_SIDE)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = dis.calc(cv2.cvtColor(small_after, cv2.COLOR_BGR2GRAY),
                    cv2.cvtColor(small_before, cv2.COLOR_BGR2GRAY), None)
    if scale != 1.0:
        flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR) / scale
    return flow


def warp(before: np.ndarray, after: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``mask`` (on ``before``) moved along the flow onto ``after``."""
    flow = flow_back(before, after)
    height, width = mask.shape
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    moved = cv2.remap(mask.astype(np.float32), xs + flow[..., 0], ys + flow[..., 1],
                      cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return moved >= 0.5


def recut(bgr: np.ndarray, warped: np.ndarray) -> np.ndarray:
    """The warped mask re-cut by GrabCut on a small crop around it: certain core, unsure
    band each side of its edge, certain background beyond; only parts of the cut that touch
    the warped mask are kept (no specks of the object's colour elsewhere)."""
    height, width = warped.shape
    ys, xs = np.nonzero(warped)
    size = max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    pad = int(MARGIN * size) + 4
    x0, y0 = max(0, xs.min() - pad), max(0, ys.min() - pad)
    x1, y1 = min(width, xs.max() + 1 + pad), min(height, ys.max() + 1 + pad)
    small, scale = shrink(bgr[y0:y1, x0:x1], CUT_SIDE)
    h, w = small.shape[:2]
    inside = resize_mask(warped[y0:y1, x0:x1], w, h)
    core = cv2.erode(inside.view(np.uint8), _disk(BAND * size * scale)).astype(bool)
    near = cv2.dilate(inside.view(np.uint8), _disk(OUTSIDE * size * scale)).astype(bool)
    seeds = np.full((h, w), cv2.GC_BGD, np.uint8)
    seeds[near] = cv2.GC_PR_BGD
    seeds[inside] = cv2.GC_PR_FGD
    seeds[core] = cv2.GC_FGD
    found = cut(small, seeds, iterations=1)
    count, parts = cv2.connectedComponents(found.view(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(parts[found & inside])] = True
    keep[0] = False
    out = np.zeros_like(warped)
    out[y0:y1, x0:x1] = resize_mask(keep[parts], x1 - x0, y1 - y0)
    return out


def _disk(radius: float) -> np.ndarray:
    """A round structuring element of ``radius`` pixels (at least 1)."""
    r = max(1, round(radius))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


class Appearance:
    """Colour histograms of the object and its surroundings on the accepted frame: how much
    of a later mask still looks like the object (relative to the accepted frame itself)."""

    def __init__(self, bgr: np.ndarray, mask: np.ndarray) -> None:
        small, _ = shrink(bgr, CUT_SIDE)
        inside = resize_mask(mask, *small.shape[1::-1])
        self._object = _histogram(small, inside)
        self._rest = _histogram(small, ~inside)
        self._base = self._share(small, inside) if inside.any() else 0.0

    def score(self, bgr: np.ndarray, mask: np.ndarray) -> float:
        """Share of ``mask`` whose colours are likelier the object's than the rest's, over the
        same share on the accepted frame (1.0: looks as it did; an empty mask scores 0.0,
        unless the accepted one was empty too: then nothing was lost)."""
        small, _ = shrink(bgr, CUT_SIDE)
        inside = resize_mask(mask, *small.shape[1::-1])
        if not inside.any():
            return 0.0 if self._base > 0 else 1.0
        return float(min(1.0, self._share(small, inside) / max(self._base, 1e-6)))

    def _share(self, small: np.ndarray, inside: np.ndarray) -> float:
        bins = (small // (256 // BINS)).astype(np.int32)
        index = (bins[..., 0] * BINS + bins[..., 1]) * BINS + bins[..., 2]
        likelier = self._object.ravel()[index] > self._rest.ravel()[index]
        return np.count_nonzero(likelier & inside) / np.count_nonzero(inside)


def _histogram(small: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Normalised BINS^3 colour histogram of the pixels ``where`` is true (uniform if none)."""
    hist = cv2.calcHist([small], [0, 1, 2], where.view(np.uint8) if where.any() else None,
                        [BINS] * 3, [0, 256] * 3)
    return hist / max(float(hist.sum()), 1.0)
