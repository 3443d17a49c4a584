"""The promptable selector: clicks (and a box, and an earlier mask) in, an object's mask out.

What it combines, each measured on the GrabCut set (BENCHMARKS.md, "Click to segment"):

- **The model's classes.** A click on a person, a dog or a car starts from the model's region
  of that class around the click (the project's refined labels, computed once per picture in
  :meth:`Selector.set_image`), so the first click selects the object, not only its colour.
- **GrabCut's colour model** on a small copy of the picture, seeded with the clicks as certain
  disks, the class region and the earlier mask as "probable", and a disk sized by the click's
  distance to the earlier mask's edge (a click in the middle of a wrong area says how big it
  is).
- **A focus area for corrections.** A click that disagrees with the earlier mask re-cuts only
  a window around it (sized by that distance, widened to the click's class region and to the
  patch of its colour); inside, the colour patch is seeded as the click's side, and only the
  change that holds the click is kept. The rest of the mask stays as it was, so a correction
  never undoes what earlier clicks settled, and a small window is cut at a finer scale.
- **Connected parts.** Only parts of the cut that hold an include click or lie mostly inside
  the earlier mask are kept: GrabCut's stray specks of similar colour go.
- **Edges at full resolution.** The small mask is brought back to full size with the colour
  guided filter the live masks use (core/masks/refine.py), so edges follow the picture.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from livesegment.core.frames import Frame
from livesegment.core.masks.refine import guided_upsample
from livesegment.core.models.zoo import DEFAULT_MODEL
from livesegment.core.segmenter import Segmenter, mask_labels
from livesegment.core.select.grabcut import (ITERATIONS, SEED_RADIUS, WORK_SIDE, cut, resize_mask,
                                             shrink, stamp)
from livesegment.core.select.prompts import Click, checked_picture, checked_prompts

FOCUS_REACH = 2.5  # a correction's window: this many times the click's depth in its error
FOCUS_LEAST = 0.15  # ... and at least this share of the picture's long side, each way
SPREAD = 0.8  # a disagreeing click marks this share of its depth as "probably" its side
FIRST_SPREAD = 0.12  # a first click off any known class: that share of the long side
CORE = 0.4  # ... and this share of its depth as certainly its side
FLOOD = 20.0  # colour tolerance (0..255 a channel) of the patch a disagreeing click is about


@dataclass(frozen=True, eq=False)
class Prepared:
    """What the selector works out from a picture alone, before any click: a value, so it
    can be computed on any thread (a window prepares the picture the user will step to next
    while they click on this one) and handed over with :meth:`Selector.use`."""

    bgr: np.ndarray  # the picture, HxWx3 uint8
    small: np.ndarray  # shrunk to the graph cut's side
    scale: float  # small / full size
    labels: np.ndarray | None  # HxW class ids from the model, None without one
    small_labels: np.ndarray | None  # the same, shrunk


class Selector:
    """Click-to-mask on the CPU. ``model``: a model name or a loaded :class:`Segmenter` whose
    classes guide the first clicks, or None for colour alone. ``side``: long side of the
    copy the graph cut runs on (speed against detail)."""

    def __init__(self, model: str | Segmenter | None = DEFAULT_MODEL, *,
                 side: int = WORK_SIDE, iterations: int = ITERATIONS) -> None:
        if isinstance(model, str):
            model = Segmenter.create(model, "cpu")
        self.model, self.side, self.iterations = model, side, iterations
        self._bgr: np.ndarray | None = None
        self._labels: np.ndarray | None = None  # HxW class ids, or None without a model
        self._small, self._scale = np.zeros((0, 0, 3), np.uint8), 1.0  # the picture, shrunk
        self._small_labels: np.ndarray | None = None  # its labels, shrunk
        self._model_lock = threading.Lock()

    def set_image(self, bgr: np.ndarray) -> None:
        """The picture to select in; the model's labels for it are computed now, once."""
        self.use(self.prepare(bgr))

    def prepare(self, bgr: np.ndarray) -> Prepared:
        """The work on ``bgr`` that needs no click (the model's labels: most of a second or
        more at 720p on a CPU). Safe on any thread while :meth:`predict` runs on another;
        preparations take turns on the model, which is not made for two at once."""
        bgr = checked_picture(bgr)
        small, scale = shrink(bgr, self.side)
        if self.model is None:
            return Prepared(bgr, small, scale, None, None)
        with self._model_lock, torch.inference_mode():
            result = self.model.infer(Frame(0, 0.0, bgr))
            labels = mask_labels(result, refine=True).cpu().numpy()
        small_labels = cv2.resize(labels, small.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        return Prepared(bgr, small, scale, labels, small_labels)

    def use(self, prepared: Prepared) -> None:
        """Selects in ``prepared``'s picture from now on (at once: the work is done)."""
        self._bgr, self._small, self._scale = prepared.bgr, prepared.small, prepared.scale
        self._labels, self._small_labels = prepared.labels, prepared.small_labels

    def predict(self, clicks: Sequence, box: object = None,
                previous: np.ndarray | None = None) -> np.ndarray:
        """HxW bool mask for ``clicks`` (``(x, y, include)`` each), optionally a ``box``
        ``(x0, y0, x1, y1)`` around the object and the ``previous`` mask to correct."""
        clicks, region, previous = checked_prompts(self._bgr, clicks, box, previous)
        height, width = self._bgr.shape[:2]
        empty = np.zeros((height, width), bool)
        if previous is None or not previous.any():
            if region is None and not any(c.include for c in clicks):
                return empty
            return self._solve((0, 0, width, height), clicks, region, empty)
        out = previous.copy()
        for click in clicks:
            if out[click.pixel] != click.include:  # a correction: re-cut around it only
                out = self._solve(self._focus(click, out), clicks, None, out, click)
        return out

    def alternatives(self, clicks: Sequence, box: object = None,
                     previous: np.ndarray | None = None) -> list[np.ndarray]:
        """A few candidate masks, best first: :meth:`predict`'s, then the model's whole
        connected class region under each include click (where it differs), for a user who
        meant the object as the model sees it."""
        found = [self.predict(clicks, box, previous)]
        for click in checked_prompts(self._bgr, clicks, box, previous)[0]:
            part = self._class_part(self._labels, click) if click.include else None
            if part is not None and not any(np.array_equal(part, m) for m in found):
                found.append(part)
        return found

    def _focus(self, click: Click, mask: np.ndarray) -> tuple[int, int, int, int]:
        """The window a correction re-cuts: centred on the click, FOCUS_REACH times its
        distance to the mask's other side, widened to the model's region of its class and
        to the wrong patch of the clicked colour. Worked out on the small copy."""
        height, width = mask.shape
        h, w = self._small.shape[:2]
        scale = self._scale
        at = Click(min(click.x * scale, w - 1), min(click.y * scale, h - 1), click.include)
        little = resize_mask(mask, w, h)
        little[at.pixel] = mask[click.pixel]
        half = min(max(FOCUS_REACH * _depth(little, at) / scale,
                       FOCUS_LEAST * max(height, width)), max(height, width))
        boxes = [(click.x - half, click.y - half, click.x + half, click.y + half)]
        part = self._class_part(self._small_labels, at) if click.include else None
        alike = _alike(self._small, little != click.include, at, FLOOD)
        for found in (part, alike):
            if found is not None and found.any():
                ys, xs = np.nonzero(found)
                boxes.append((xs.min() / scale, ys.min() / scale, (xs.max() + 1) / scale,
                              (ys.max() + 1) / scale))
        x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
        x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
        return (max(0, int(x0)), max(0, int(y0)), min(width, int(np.ceil(x1))),
                min(height, int(np.ceil(y1))))

    def _class_part(self, labels: np.ndarray | None, click: Click) -> np.ndarray | None:
        """The connected part of the model's class under the click (None on background)."""
        if labels is None or self.model is None:
            return None
        y, x = click.pixel
        k = labels[y, x]
        if k == self.model.spec.background:
            return None
        _, parts = cv2.connectedComponents((labels == k).view(np.uint8), connectivity=8)
        return parts == parts[y, x]

    def _solve(self, region: tuple[int, int, int, int], clicks: tuple[Click, ...],
               box: tuple[int, int, int, int] | None, base: np.ndarray,
               focus: Click | None = None) -> np.ndarray:
        """``base`` with ``region`` re-cut by GrabCut from the clicks' seeds."""
        x0, y0, x1, y1 = region
        crop = self._bgr[y0:y1, x0:x1]
        small, scale = shrink(crop, self.side)
        h, w = small.shape[:2]
        inside = [c for c in clicks if x0 <= c.x < x1 and y0 <= c.y < y1]
        local = [Click(min((c.x - x0) * scale, w - 1), min((c.y - y0) * scale, h - 1), c.include)
                 for c in inside]
        base_small = resize_mask(base[y0:y1, x0:x1], w, h)
        seeds = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
        if box is not None:  # GrabCut's rectangle: outside is background for sure
            seeds[:] = cv2.GC_BGD
            bx0, by0, bx1, by1 = (round((v - o) * scale) for v, o in zip(box, (x0, y0, x0, y0)))
            seeds[by0:by1, bx0:bx1] = cv2.GC_PR_FGD
        seeds[base_small] = cv2.GC_PR_FGD
        anchor = (seeds & 1).astype(bool)  # parts mostly in here may stay without a click
        labels = None if self._labels is None else cv2.resize(
            self._labels[y0:y1, x0:x1], (w, h), interpolation=cv2.INTER_NEAREST)
        for click in local:
            self._spread(seeds, click, base_small, labels, FIRST_SPREAD * max(h, w), small)
        stamp(seeds, inside, scale, SEED_RADIUS, (x0, y0))
        found = _kept_parts(cut(small, seeds, self.iterations), local, anchor)
        out = base.copy()
        new = _full_size(found, crop)
        if focus is not None:
            new = _clicked_change(base[y0:y1, x0:x1], new, focus.pixel[0] - y0,
                                  focus.pixel[1] - x0)
        out[y0:y1, x0:x1] = new
        _stamp_full(out, clicks)
        return out

    def _spread(self, seeds: np.ndarray, click: Click, base: np.ndarray,
                labels: np.ndarray | None, first: float, small: np.ndarray) -> None:
        """A click that disagrees with ``base`` marks its surroundings as its side: the model's
        class part under it and the patch of its colour (probably), a disk sized by its depth
        in the error (probably; its inner part certainly)."""
        if base[click.pixel] == click.include:
            return
        side = cv2.GC_PR_FGD if click.include else cv2.GC_PR_BGD
        # The class part only ever adds: under an exclude click it may be the object itself,
        # whose class the model spread too far.
        part = self._class_part(labels, click) if click.include else None
        if part is not None:
            seeds[part & ~base] = side
        depth = _depth(base, click) if base.any() else first
        radius = max(1, round(min(SPREAD * depth, 4 * first)))
        cv2.circle(seeds, (round(click.x), round(click.y)), radius, side, -1)
        if base.any():
            core = round(min(CORE * depth, first))
            if core > 1:
                cv2.circle(seeds, (round(click.x), round(click.y)), core, side - 2, -1)
        seeds[_alike(small, base != click.include, click, FLOOD)] = side


def _alike(small: np.ndarray, allowed: np.ndarray, click: Click, tolerance: float
           ) -> np.ndarray:
    """The pixels reachable from the click through ``allowed`` ones whose colour lies within
    ``tolerance`` of the clicked colour (each channel): the patch the click is about."""
    fill = np.pad(~allowed, 1).astype(np.uint8)
    cv2.floodFill(small, fill, (int(click.x), int(click.y)), 0, (tolerance,) * 3,
                  (tolerance,) * 3, 8 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY
                  | (2 << 8))
    return fill[1:-1, 1:-1] == 2


def _depth(mask: np.ndarray, click: Click) -> float:
    """How far the click lies from the nearest pixel where ``mask`` takes the other value
    (inf when there is none)."""
    side = mask[click.pixel]
    if (mask == side).all():
        return float("inf")
    same = (mask == side).view(np.uint8)
    return float(cv2.distanceTransform(same, cv2.DIST_L2, 3)[click.pixel])


def _kept_parts(found: np.ndarray, clicks: Sequence[Click], base: np.ndarray) -> np.ndarray:
    """The cut's connected parts that hold an include click or lie mostly inside ``base``
    (the earlier mask, or the box)."""
    count, parts = cv2.connectedComponents(found.view(np.uint8), connectivity=8)
    if count < 2:
        return found
    keep = np.zeros(count, bool)
    keep[[parts[c.pixel] for c in clicks if c.include]] = True
    area = np.bincount(parts.ravel(), minlength=count)
    overlap = np.bincount(parts[base], minlength=count)
    keep |= overlap * 2 >= area
    keep[0] = False
    return keep[parts]


def _clicked_change(before: np.ndarray, after: np.ndarray, row: int, column: int
                    ) -> np.ndarray:
    """``after`` only where it differs from ``before`` in the connected change that holds
    (row, column): a correction fixes the wrong area it was clicked in and nothing else."""
    changed = before != after
    if not changed[row, column]:
        return before.copy()
    _, parts = cv2.connectedComponents(changed.view(np.uint8), connectivity=8)
    return np.where(parts == parts[row, column], after, before)


def _full_size(found: np.ndarray, crop: np.ndarray) -> np.ndarray:
    """The small mask at the crop's size, its edges snapped to the crop's colours."""
    height, width = crop.shape[:2]
    if found.shape == (height, width) or not found.any() or found.all():
        return resize_mask(found, width, height)
    target = torch.from_numpy(found.astype(np.float32))[None, None]
    plane = guided_upsample(target, torch.from_numpy(np.ascontiguousarray(crop)))[0]
    return plane.numpy() >= 0.5


def _stamp_full(mask: np.ndarray, clicks: Sequence[Click]) -> None:
    """Every click's own pixel takes its side: a click always holds what it said."""
    for c in clicks:
        mask[c.pixel] = c.include
