"""Class names (and colours) as datasets declare them: classes.txt, labelmap.txt, labels.txt."""

from __future__ import annotations

import re
from pathlib import Path

from livesegment.errors import InputError
from livesegment.io.datasets.values import RGB

MAX_CLASSES = 255  # labels are uint8 and 255 means ignore
_NUMBERED = re.compile(r"^(\d+)\s*[:,\s]\s*(.+)$")


def read_text(path: Path) -> list[str]:
    """Non-empty lines without comments."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return [line for line in lines if line]


def read_class_names(path: Path) -> tuple[str, ...]:
    """``classes.txt``: a name per line in id order, optionally numbered (``3 crack``,
    ``3: crack``); numbers must then run 0, 1, 2, ..."""
    names: list[str] = []
    for line in read_text(path):
        numbered = _NUMBERED.match(line)
        if numbered:
            if int(numbered.group(1)) != len(names):
                raise InputError(f"{path}: class {numbered.group(1)} is listed where class "
                                 f"{len(names)} should be; list ids in order from 0")
            line = numbered.group(2).strip()
        names.append(line)
    return checked_names(names, path)


def checked_names(names: list[str] | tuple[str, ...], source: object) -> tuple[str, ...]:
    if not names:
        raise InputError(f"{source} names no class")
    if len(names) > MAX_CLASSES:
        raise InputError(f"{source} names {len(names)} classes; at most {MAX_CLASSES} fit")
    seen: set[str] = set()
    for name in names:
        if name.lower() in seen:
            raise InputError(f"{source} names class '{name}' twice")
        seen.add(name.lower())
    return tuple(names)


def read_labelmap(path: Path) -> tuple[tuple[str, ...], tuple[RGB, ...]]:
    """CVAT / Datumaro ``labelmap.txt``: ``name:R,G,B:parts:actions`` per line."""
    names: list[str] = []
    colours: list[RGB] = []
    for number, line in enumerate(read_text(path), 1):
        fields = line.split(":")
        try:
            rgb = tuple(int(v) for v in fields[1].split(","))
        except (IndexError, ValueError):
            rgb = ()
        if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
            raise InputError(f"{path} line {number}: expected 'name:R,G,B::', got '{line}'")
        if rgb in colours:
            raise InputError(f"{path} line {number}: colour {rgb} is already class "
                             f"'{names[colours.index(rgb)]}'")
        names.append(fields[0].strip())
        colours.append(rgb)  # type: ignore[arg-type]
    return checked_names(names, path), tuple(colours)


def agree(declared: tuple[str, ...] | None, given: tuple[str, ...] | None,
          source: object) -> tuple[str, ...] | None:
    """The dataset's own names, the caller's where it has none; a clash is an error rather
    than a silent choice."""
    if given is not None:
        given = checked_names(given, "the classes given")
    if declared is None or given is None:
        return declared or given
    if [n.lower() for n in declared] != [n.lower() for n in given]:
        raise InputError(f"{source} names the classes {', '.join(declared)}; the classes "
                         f"given were {', '.join(given)}")
    return declared
