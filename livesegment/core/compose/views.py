"""What one output frame shows, and what a frame's labels add up to.

``overlay`` is the blended frame; ``mask`` the colour map alone (``OverlayStyle.mask_only``
does the blending, so this module only arranges); ``side-by-side`` the source beside the
overlay, for judging a model at a glance.
"""

from __future__ import annotations

import numpy as np



def view_width(view: str, width: int) -> int:
    """The output picture's width for a source ``width`` wide."""
    return 2 * width if view == "side-by-side" else width


def arrange(view: str, source: np.ndarray, composed: np.ndarray) -> np.ndarray:
    """The picture to write: the composed frame, or the source and it side by side."""
    if view == "side-by-side":
        return np.hstack((source, composed))
    return composed


def colour_labels(labels: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """HxW class ids -> HxWx3 BGR in the model's palette (ids past the palette are black)."""
    table = np.zeros((256, 3), np.uint8)
    table[: len(palette)] = palette[:, ::-1]
    return table[labels]


def class_counts(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Each class's pixels in ``labels`` (int64; a picture's bands can be summed)."""
    return np.bincount(labels.reshape(-1), minlength=num_classes)[:num_classes]


def class_shares(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Each class's share of the frame's pixels (float64, sums to 1 over the classes)."""
    return class_counts(labels, num_classes) / max(labels.size, 1)
