"""Labelling one picture: the object being drawn, every step undoable, accepted into the
picture's class-id map. Pure: no Qt, no files; the labelling window drives it.

A :class:`Sheet` is one picture's sitting: a history of :class:`Moment` s (the class-id map
and the object being drawn, with the clicks that made it). Every step, a click, a box, a
brush or eraser stroke, an accept, a drop, a start from an existing mask, returns a new sheet
with one more moment, so undo and redo restore the exact earlier masks by construction
rather than by replaying work. Arrays in a moment are made read-only and shared between
moments that did not change them: a click costs one mask, not a copy of the map.

Clicks go through a selector's ``predict(clicks, box, previous)`` (``Selector.predict``, with
``set_image`` done once per picture by the caller): include clicks add, exclude clicks
remove, and every click after the first corrects the mask so far. Brush and eraser strokes
are plain mask maths: every pixel within ``radius`` of the dragged polyline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch

from livesegment.core.frames import Frame
from livesegment.core.segmenter import Segmenter, mask_labels
from livesegment.core.select.prompts import Click

HISTORY = 64  # moments kept for undo: at 720p each costs at most one map and one mask
NOT_LABELLED = 255  # a class-id map's "nobody said yet" value: never written by accept

Box = tuple[int, int, int, int]
Predict = Callable[[Sequence[Click], "Box | None", "np.ndarray | None"], np.ndarray]


def _frozen(array: np.ndarray) -> np.ndarray:
    """``array`` made read-only, so moments can share it without copying."""
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Moment:
    """The picture after one step: its class ids, the object being drawn (``mask``, empty
    when none) with its clicks and box, and where the object was taken from (``taken``: the
    class whose pixels ``source`` it had before being picked up again, 0 for a new object)."""

    labels: np.ndarray  # HxW uint8 class ids, 0 background
    mask: np.ndarray  # HxW bool
    clicks: tuple[Click, ...] = ()
    box: Box | None = None
    taken: int = 0
    source: np.ndarray | None = None

    @property
    def drawing(self) -> bool:
        """Whether an object is being drawn (something Enter would accept)."""
        return bool(self.mask.any()) or self.taken != 0


@dataclass(frozen=True, eq=False)
class Sheet:
    """One picture's sitting: ``past[-1]`` is now; ``future`` holds what undo took back."""

    past: tuple[Moment, ...]
    future: tuple[Moment, ...] = ()

    @property
    def now(self) -> Moment:
        return self.past[-1]

    @property
    def shape(self) -> tuple[int, int]:
        return self.now.labels.shape  # type: ignore[return-value]

    def then(self, moment: Moment) -> Sheet:
        """This sheet with ``moment`` as its newest step; redo is lost, as in every editor."""
        return Sheet((self.past + (moment,))[-HISTORY:], ())


def begin(labels: np.ndarray | None, height: int, width: int) -> Sheet:
    """A sheet for a ``width`` x ``height`` picture, from its saved class ids (or none)."""
    if labels is None:
        labels = np.zeros((height, width), np.uint8)
    elif labels.shape != (height, width):
        raise ValueError(f"labels: a {labels.shape[1]}x{labels.shape[0]} map for a "
                         f"{width}x{height} picture")
    empty = _frozen(np.zeros((height, width), bool))
    return Sheet((Moment(_frozen(labels.astype(np.uint8, copy=True)), empty),))


def start_from(sheet: Sheet, mask: np.ndarray) -> Sheet:
    """The object being drawn becomes ``mask`` (a saved draft, a model's prediction) for the
    user to correct with the same clicks and strokes."""
    mask = _checked_mask(sheet, mask)
    return sheet.then(Moment(sheet.now.labels, _frozen(mask.copy())))


def click(sheet: Sheet, predict: Predict, x: float, y: float, include: bool) -> Sheet:
    """An include (left) or exclude (right, Shift) click, answered by the selector: the
    first include click starts an object, each later click corrects it."""
    now = sheet.now
    clicks = now.clicks + (Click(float(x), float(y), include),)
    previous = now.mask if now.mask.any() else None
    if previous is None and not include:
        return sheet  # nothing to remove from: no step to undo either
    mask = np.asarray(predict(clicks, now.box if previous is None else None, previous), bool)
    return sheet.then(replace(now, mask=_frozen(_checked_mask(sheet, mask).copy()),
                              clicks=clicks))


def drag_box(sheet: Sheet, predict: Predict, box: Box) -> Sheet:
    """A dragged box starts the object afresh: the selector's answer inside it."""
    now = sheet.now
    mask = np.asarray(predict((), box, None), bool)
    return sheet.then(replace(now, mask=_frozen(_checked_mask(sheet, mask).copy()), clicks=(),
                              box=tuple(int(v) for v in box)))  # type: ignore[arg-type]


def paint(sheet: Sheet, points: Sequence[tuple[float, float]], radius: float,
          add: bool) -> Sheet:
    """A brush (``add``) or eraser stroke along ``points``. Clicks the stroke contradicts
    are forgotten: a later click must not re-cut what the stroke settled."""
    now = sheet.now
    touched = stroke(sheet.shape, points, radius)
    if not touched.any():
        return sheet
    mask = now.mask | touched if add else now.mask & ~touched
    kept = tuple(c for c in now.clicks if mask[c.pixel] == c.include)
    return sheet.then(replace(now, mask=_frozen(mask), clicks=kept))


def take(sheet: Sheet, x: float, y: float) -> Sheet:
    """Picks up the labelled object under (x, y) (its class's connected part) to correct
    it: it leaves the map and becomes the object being drawn; :func:`drop` puts it back."""
    base = _dropped(sheet.now)  # an object already being drawn is let go first
    row, column = int(y), int(x)
    k = int(base[row, column])
    if k in (0, NOT_LABELLED):
        return sheet
    _, parts = cv2.connectedComponents((base == k).view(np.uint8), connectivity=8)
    part = _frozen(parts == parts[row, column])
    labels = _frozen(np.where(part, np.uint8(0), base).astype(np.uint8))
    return sheet.then(Moment(labels, part, (), None, k, part))


def accept(sheet: Sheet, class_id: int) -> Sheet:
    """Enter: the object is written into the map with ``class_id`` (over what was there),
    and nothing is being drawn any more."""
    if not 0 < class_id < NOT_LABELLED:
        raise ValueError(f"class_id: expected 1..{NOT_LABELLED - 1}, got {class_id}")
    now = sheet.now
    if not now.drawing:
        return sheet
    labels = now.labels.copy()
    labels[now.mask] = class_id
    empty = _frozen(np.zeros(sheet.shape, bool))
    return sheet.then(Moment(_frozen(labels), empty))


def drop(sheet: Sheet) -> Sheet:
    """Esc: the object being drawn is let go; one picked up from the map goes back as it
    was."""
    now = sheet.now
    if not now.drawing:
        return sheet
    return sheet.then(Moment(_dropped(now), _frozen(np.zeros(sheet.shape, bool))))


def _dropped(now: Moment) -> np.ndarray:
    """The map with an object picked up from it put back."""
    if now.taken == 0 or now.source is None:
        return now.labels
    return _frozen(np.where(now.source, np.uint8(now.taken), now.labels).astype(np.uint8))


def undo(sheet: Sheet) -> Sheet:
    """One step back (the same sheet when there is none)."""
    if len(sheet.past) < 2:
        return sheet
    return Sheet(sheet.past[:-1], (sheet.now,) + sheet.future)


def redo(sheet: Sheet) -> Sheet:
    """The step undo took back, again."""
    if not sheet.future:
        return sheet
    return Sheet(sheet.past + sheet.future[:1], sheet.future[1:])


def with_labels(sheet: Sheet, labels: np.ndarray) -> Sheet:
    """The map replaced from outside (a mask carried from another frame), as one step."""
    labels = np.asarray(labels, np.uint8)
    if labels.shape != sheet.shape:
        raise ValueError(f"labels: {labels.shape} for a {sheet.shape} picture")
    return sheet.then(replace(sheet.now, labels=_frozen(labels.copy())))


def stroke(shape: tuple[int, int], points: Sequence[tuple[float, float]], radius: float
           ) -> np.ndarray:
    """HxW bool: every pixel (row r, column c, at x=c, y=r as clicks are) within ``radius``
    of the polyline through ``points`` (one point: a disk). Worked out per segment inside its bounding box only,
    so a stroke costs its own area, not the picture's."""
    height, width = shape
    out = np.zeros(shape, bool)
    if not points or radius <= 0:
        return out
    pts = [(float(x), float(y)) for x, y in points]
    segments = list(zip(pts, pts[1:])) or [(pts[0], pts[0])]
    for (ax, ay), (bx, by) in segments:
        x0, x1 = _span(min(ax, bx), max(ax, bx), radius, width)
        y0, y1 = _span(min(ay, by), max(ay, by), radius, height)
        if x0 >= x1 or y0 >= y1:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        dx, dy = bx - ax, by - ay
        length = dx * dx + dy * dy
        t = np.zeros_like(xs) if length == 0 else np.clip(
            ((xs - ax) * dx + (ys - ay) * dy) / length, 0.0, 1.0)
        near = (xs - ax - t * dx) ** 2 + (ys - ay - t * dy) ** 2 <= radius * radius
        out[y0:y1, x0:x1] |= near
    return out


def _span(low: float, high: float, radius: float, size: int) -> tuple[int, int]:
    """The pixel range (end excluded) a segment from ``low`` to ``high`` can reach."""
    return max(0, int(np.floor(low - radius))), min(size, int(np.ceil(high + radius)) + 1)


def predicted_mask(segmenter: Segmenter, bgr: np.ndarray, name: str | None) -> np.ndarray:
    """A model's answer as a starting mask: its pixels of the class called ``name`` where
    the model knows that name, else every pixel it does not call background."""
    with torch.inference_mode():
        labels = mask_labels(segmenter.infer(Frame(0, 0.0, bgr)), refine=True).cpu().numpy()
    spec = segmenter.spec
    wanted = [i for i, c in enumerate(spec.categories)
              if name is not None and c.strip().lower() == name.strip().lower()]
    if wanted and wanted[0] != spec.background:
        return labels == wanted[0]
    return labels != spec.background


def _checked_mask(sheet: Sheet, mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != sheet.shape:
        raise ValueError(f"mask: {mask.shape} for a {sheet.shape} picture")
    return mask.astype(bool, copy=False)
