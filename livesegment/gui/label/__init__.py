"""Labelling mode: pictures or a video's frames labelled with clicks, boxes and a brush,
into a folder that ``livesegment train`` and ``eval`` read as it is.

This package file imports no Qt, so the command line can ask where a label folder goes
before it opens a window."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

# Colours a new class gets, the first one no class has: far apart from each other and from
# the highlight of the object being drawn.
NEW_COLOURS = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
               (70, 240, 240), (240, 50, 230), (210, 245, 60), (0, 128, 128), (170, 110, 40))


def default_output(source: Path) -> Path:
    """Where a new label folder goes: beside the pictures or video, named after them."""
    source = Path(source)
    return source.parent / f"{source.stem if source.is_file() else source.name}-labels"


def free_colour(taken: Iterable[tuple[int, int, int]]) -> tuple[int, int, int]:
    """A colour no class has yet (the store refuses two classes of one colour)."""
    used = {tuple(c) for c in taken}
    free = [c for c in NEW_COLOURS if c not in used]
    if free:
        return free[0]
    n = len(used)
    while (colour := ((n * 97) % 256, (n * 57 + 80) % 256, (n * 151 + 160) % 256)) in used:
        n += 1
    return colour
