"""From the values stored in annotation files to class ids, decided once for the whole dataset.

A mask's pixel values ("codes") mean different things in different datasets: class ids, palette
indices, RGB colours, or 0/255 for a binary mask. Deciding per file would misread a binary
dataset whose pictures happen to hold one value; deciding per dataset, from every file's
histogram, gets it right and lets the pre-flight report say what was decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from livesegment.errors import InputError
from livesegment.io.datasets.records import IGNORE

RGB = tuple[int, int, int]
# PASCAL VOC's "void" colour (palette index 255): the ignore band around objects.
VOID_RGB: RGB = (224, 224, 192)


def pack_rgb(rgb: RGB) -> int:
    """An RGB colour as one integer code, as :func:`rgb_codes` packs mask pixels."""
    r, g, b = rgb
    return (int(r) << 16) | (int(g) << 8) | int(b)


def rgb_codes(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> HxW int32 codes, one per colour."""
    rgb = rgb.astype(np.int32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def describe_code(code: int, colour: bool) -> str:
    if not colour:
        return str(code)
    if code < 0:  # a grey mask in a colour dataset: an index past the colour table
        return f"index {-code - 1}"
    return f"({code >> 16},{(code >> 8) & 255},{code & 255})"


def histogram(codes: np.ndarray) -> dict[int, int]:
    """Pixel count per code present in ``codes``."""
    flat = codes.ravel()
    if flat.dtype in (np.uint8, np.uint16, np.bool_):
        counts = np.bincount(flat.astype(np.int64, copy=False))
        present = np.flatnonzero(counts)
        return {int(v): int(counts[v]) for v in present}
    values, counts = np.unique(flat, return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts)}


@dataclass(frozen=True, eq=False)
class ValueMap:
    """Which code is which class id (``IGNORE`` allowed); any other code is an error."""

    table: Mapping[int, int]
    colour: bool = False  # codes are packed RGB colours (messages show them as colours)
    _lut: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.table and max(self.table) < 65536:
            lut = np.full(max(self.table) + 1, -1, np.int16)
            for code, label in self.table.items():
                lut[code] = label
            object.__setattr__(self, "_lut", lut)

    def unknown(self, codes: Iterable[int]) -> list[int]:
        return sorted(c for c in codes if c not in self.table)

    def apply(self, codes: np.ndarray, source: object) -> np.ndarray:
        """HxW codes -> HxW uint8 labels; a code with no class is an :class:`InputError`
        naming ``source`` (never a silently wrong label)."""
        if self._lut is not None and codes.dtype in (np.uint8, np.uint16, np.bool_):
            big = codes >= len(self._lut)
            labels = self._lut[np.where(big, 0, codes)]
            bad = big | (labels < 0)
            if not bad.any():
                return labels.astype(np.uint8)
            raise self._error(np.unique(codes[bad]).tolist(), source)
        values, inverse = np.unique(codes, return_inverse=True)
        unknown = self.unknown(int(v) for v in values)
        if unknown:
            raise self._error(unknown, source)
        mapped = np.array([self.table[int(v)] for v in values], np.uint8)
        return mapped[inverse.reshape(codes.shape)]

    def _error(self, unknown: list[int], source: object) -> InputError:
        return InputError(f"{source}: {unexpected_text(unknown, self.colour)}")


def unexpected_text(unknown: list[int], colour: bool) -> str:
    shown = ", ".join(describe_code(c, colour) for c in unknown[:6])
    more = f" and {len(unknown) - 6} more" if len(unknown) > 6 else ""
    what = "colours" if colour else "values"
    return f"{what} {shown}{more} name no class"


def identity_map(num_classes: int) -> ValueMap:
    """Annotations painted as class ids already (polygons): ids map to themselves."""
    return ValueMap({**{i: i for i in range(num_classes)}, IGNORE: IGNORE})


def colour_map(colours: tuple[RGB, ...], ignore: Iterable[RGB] = ()) -> ValueMap:
    """Colour masks (CVAT, VOC): each class's colour; VOC's void colour is ignore unless a
    class claims it."""
    table = {pack_rgb(c): i for i, c in enumerate(colours)}
    for rgb in (*ignore, VOID_RGB):
        table.setdefault(pack_rgb(rgb), IGNORE)
    return ValueMap(table, colour=True)


@dataclass(frozen=True)
class IdRule:
    """What grey / palette-index masks mean, with the reason to show in the report."""

    value_map: ValueMap
    classes: tuple[str, ...]
    note: str = ""
    problem: str = ""


def id_rule(present: set[int], declared: tuple[str, ...] | None,
            ignore: Iterable[int] = ()) -> IdRule:
    """Decides the meaning of grey / index masks from every value present in the dataset.

    * 0/255 only (after the declared ``ignore`` values): a binary mask, 255 is class 1 (the
      classic mistake reads it as "ignore" and reports IoU 0 or NaN for the only class).
    * Otherwise values are class ids and 255 is ignore; with ``declared`` class names a value
      past the last class is unexpected (an error); without them the values must run 0, 1,
      2, ... (grey levels such as 0/128 are refused rather than read as 129 classes).
    """
    ignored = set(ignore) - {0}
    rest = present - ignored
    binary = bool(rest) and rest <= {0, IGNORE} and IGNORE in rest
    table = {v: IGNORE for v in ignored}
    if binary and (declared is None or len(declared) == 2):
        classes = declared or ("background", "foreground")
        table.update({0: 0, IGNORE: 1})
        note = f"0/255 binary masks: 255 read as class 1 ({classes[1]})"
        return IdRule(ValueMap(table), classes, note)
    if binary:
        problem = (f"masks hold only 0 and 255 but {len(declared)} classes are named: 255 "
                   "would be 'ignore' everywhere; name 2 classes for a binary dataset")
        return IdRule(ValueMap(table), declared, problem=problem)
    if declared is None:
        ids = sorted(v for v in rest if v != IGNORE)
        top = ids[-1] if ids else 0
        if ids and len(ids) < top + 1:  # grey levels (0, 128, 255) are no ids: guessing would be wrong
            shown = ", ".join(str(v) for v in sorted(rest)[:8])
            problem = (f"mask values {shown}{' …' if len(rest) > 8 else ''} are not class ids "
                       "0, 1, 2, ...; name the classes (classes.txt) or the values to ignore")
            return IdRule(ValueMap(table), ("background",), problem=problem)
        declared = ("background", *(f"class {i}" for i in range(1, top + 1)))
    table.update({i: i for i in range(len(declared))})
    table.setdefault(IGNORE, IGNORE)
    note = "value 255: ignore (not counted)" if IGNORE in rest else ""
    return IdRule(ValueMap(table), declared, note)
