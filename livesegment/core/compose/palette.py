"""Class colour tables: the conventional palette of each dataset, so overlays look familiar."""

from __future__ import annotations

import numpy as np


def voc_palette(n: int = 21) -> np.ndarray:
    """PASCAL VOC's bit-interleaved colour map (RGB, ``n`` x 3 uint8)."""
    out = np.zeros((n, 3), np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for bit in range(8):
            r |= ((c >> 0) & 1) << (7 - bit)
            g |= ((c >> 1) & 1) << (7 - bit)
            b |= ((c >> 2) & 1) << (7 - bit)
            c >>= 3
        out[i] = (r, g, b)
    return out


CITYSCAPES_RGB = (
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
    (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
    (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70),
    (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32), (0, 0, 0),
)


def cityscapes_palette() -> np.ndarray:
    """The Cityscapes benchmark colours, plus black for the trailing background class."""
    return np.array(CITYSCAPES_RGB, np.uint8)
