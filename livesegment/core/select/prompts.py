"""What a user hands the selector: clicks, a box, an earlier mask, checked once at the door.

A click is ``(x, y, include)`` in the picture's pixels (x right, y down); a box is
``(x0, y0, x1, y1)``. Bad prompts raise ``ValueError`` naming the argument, since a script
that passes a click outside the picture has a bug the user should see at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Click:
    """One click: ``include`` adds the object under it, otherwise it removes what it touches."""

    x: float
    y: float
    include: bool = True

    @property
    def pixel(self) -> tuple[int, int]:
        """(row, column) of the pixel the click lies on."""
        return int(self.y), int(self.x)


def checked_prompts(bgr: np.ndarray | None, clicks: Iterable, box: object, previous: object
                    ) -> tuple[tuple[Click, ...], tuple[int, int, int, int] | None,
                               np.ndarray | None]:
    """A ``predict`` call's clicks, box and previous mask, checked against the picture set
    (``bgr``: None before ``set_image``)."""
    if bgr is None:
        raise ValueError("set_image: call it with a picture before predict")
    height, width = bgr.shape[:2]
    return (checked_clicks(clicks, height, width), checked_box(box, height, width),
            checked_mask(previous, height, width))


def checked_picture(bgr: object, name: str = "bgr") -> np.ndarray:
    """An HxWx3 uint8 BGR picture with pixels in it, contiguous."""
    if not isinstance(bgr, np.ndarray):
        raise ValueError(f"{name}: expected an HxWx3 uint8 BGR numpy array, not "
                         f"{type(bgr).__name__}")
    if not (bgr.dtype == np.uint8 and bgr.ndim == 3 and bgr.shape[2] == 3):
        raise ValueError(f"{name}: expected an HxWx3 uint8 BGR picture, got {bgr.shape} "
                         f"{bgr.dtype}")
    if bgr.shape[0] == 0 or bgr.shape[1] == 0:
        raise ValueError(f"{name}: the picture is empty ({bgr.shape[1]}x{bgr.shape[0]} pixels)")
    return np.ascontiguousarray(bgr)


def checked_clicks(clicks: Iterable, height: int, width: int) -> tuple[Click, ...]:
    """Each click as a :class:`Click` inside a ``width`` x ``height`` picture."""
    if isinstance(clicks, (str, bytes)) or not isinstance(clicks, Iterable):
        raise ValueError(f"clicks: expected a list of (x, y, include), not {clicks!r}")
    out = []
    for n, raw in enumerate(clicks):
        click = raw if isinstance(raw, Click) else _as_click(raw, n)
        if not (0 <= click.x < width and 0 <= click.y < height):
            raise ValueError(f"clicks[{n}]: ({click.x:g}, {click.y:g}) lies outside the "
                             f"{width}x{height} picture")
        out.append(click)
    return tuple(out)


def _as_click(raw: object, n: int) -> Click:
    try:
        x, y, include = raw  # type: ignore[misc]
        x, y = float(x), float(y)
    except (TypeError, ValueError):
        raise ValueError(f"clicks[{n}]: expected (x, y, include), got {raw!r}") from None
    if not (np.isfinite(x) and np.isfinite(y)):
        raise ValueError(f"clicks[{n}]: ({x}, {y}) is not a point")
    if not isinstance(include, (bool, np.bool_)):
        raise ValueError(f"clicks[{n}]: include must be True or False, got {include!r}")
    return Click(x, y, bool(include))


def checked_box(box: object, height: int, width: int) -> tuple[int, int, int, int] | None:
    """``(x0, y0, x1, y1)`` clipped to the picture, or None; an empty box is an error."""
    if box is None:
        return None
    try:
        x0, y0, x1, y1 = (float(v) for v in box)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"box: expected (x0, y0, x1, y1), got {box!r}") from None
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    cx0, cy0 = max(0, int(x0)), max(0, int(y0))
    cx1, cy1 = min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1)))
    if cx1 - cx0 < 2 or cy1 - cy0 < 2:
        raise ValueError(f"box: ({x0:g}, {y0:g}, {x1:g}, {y1:g}) holds no part of the "
                         f"{width}x{height} picture")
    return cx0, cy0, cx1, cy1


def checked_mask(mask: object, height: int, width: int, name: str = "previous"
                 ) -> np.ndarray | None:
    """An HxW bool mask the picture's size, or None."""
    if mask is None:
        return None
    if not isinstance(mask, np.ndarray) or mask.ndim != 2:
        raise ValueError(f"{name}: expected an HxW mask array, got "
                         f"{getattr(mask, 'shape', type(mask).__name__)}")
    if mask.shape != (height, width):
        raise ValueError(f"{name}: a {mask.shape[1]}x{mask.shape[0]} mask for a "
                         f"{width}x{height} picture")
    return mask.astype(bool, copy=False)
