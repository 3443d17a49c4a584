"""Class colour tables: the conventional palette of each dataset, so overlays look familiar."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

# Colours a new class gets while labelling, the first one no class has: far apart from each
# other and from the highlight of the object being drawn (gui/label/canvas.py).
NEW_COLOURS = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
               (70, 240, 240), (240, 50, 230), (210, 245, 60), (0, 128, 128), (170, 110, 40))


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


def free_colour(taken: Iterable[tuple[int, int, int]]) -> tuple[int, int, int]:
    """A colour (RGB) no class has yet, for a class the user adds: a label folder refuses two
    classes of one colour, which would read back as one class."""
    used = {tuple(c) for c in taken}
    free = [c for c in NEW_COLOURS if c not in used]
    if free:
        return free[0]
    n = len(used)
    while (colour := ((n * 97) % 256, (n * 57 + 80) % 256, (n * 151 + 160) % 256)) in used:
        n += 1
    return colour
