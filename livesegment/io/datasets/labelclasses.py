"""The classes of a label folder as the user names and sees them, and the checks that keep
them readable: the class files hold every name as it is, and no two classes share a colour
(they would read back as one)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from livesegment.core.compose.palette import free_colour
from livesegment.errors import InputError


@dataclass(frozen=True)
class LabelClass:
    """A class as the user names and sees it; its id is its place in the class list."""

    name: str
    colour: tuple[int, int, int]  # RGB


def as_classes(classes: Sequence[LabelClass | str] | None) -> tuple[LabelClass, ...]:
    """LabelClass values as given; a bare name gets black at id 0 (the background), else the
    first colour no other class has, as a class added in the window does."""
    given = list(classes) if classes is not None else ["background"]
    taken = [tuple(c.colour) for c in given if isinstance(c, LabelClass)]
    out = []
    for i, c in enumerate(given):
        if not isinstance(c, LabelClass):
            c = LabelClass(str(c), (0, 0, 0) if i == 0 else free_colour(taken))
            taken.append(c.colour)
        out.append(c)
    return tuple(out)


def checked_classes(classes: tuple[LabelClass, ...]) -> tuple[LabelClass, ...]:
    """Classes that the class files can hold and the reader reads back as they are."""
    from livesegment.io.datasets.classnames import checked_names

    for c in classes:
        if c.name != c.name.strip() or any(ch in c.name for ch in ":#\n\r"):
            raise InputError(f"class name '{c.name}' may not hold ':', '#', line breaks or "
                             "spaces at its ends")
        if len(c.colour) != 3 or not all(isinstance(v, int) and 0 <= v <= 255
                                         for v in c.colour):
            raise InputError(f"class '{c.name}': colour {c.colour} is not R, G, B in 0..255")
    checked_names([c.name for c in classes], "the class list")
    seen: dict[tuple[int, int, int], str] = {}
    for c in classes:
        if tuple(c.colour) in seen:
            raise InputError(f"classes '{seen[tuple(c.colour)]}' and '{c.name}' have the same "
                             f"colour {c.colour}; give each class its own")
        seen[tuple(c.colour)] = c.name
    return tuple(LabelClass(c.name, tuple(int(v) for v in c.colour)) for c in classes)


def split_classes(classes: tuple[LabelClass, ...]) -> tuple[tuple[str, ...], tuple]:
    """(names, colours): what the class files and the COCO copy are written from."""
    return tuple(c.name for c in classes), tuple(c.colour for c in classes)
