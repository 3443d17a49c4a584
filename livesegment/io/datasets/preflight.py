"""The pre-flight: every annotation read once before any work, and a report of what was found.

It decides what grey / index mask values mean (values.py) from the whole dataset, counts each
class's pixels and pictures, and lists what would make training or evaluation wrong: masks of
another size than their picture, values that name no class, lossy JPEG masks, pictures and
masks without a partner, empty masks and pictures that appear in two splits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from livesegment.errors import InputError
from livesegment.io.datasets.annotations import MaskFile
from livesegment.io.datasets.dataset import Item, LabelledDataset, Layout, background_id
from livesegment.io.datasets.records import IGNORE
from livesegment.io.datasets.values import (
    RGB, ValueMap, histogram, id_rule, unexpected_text,
)

SHOWN = 3  # names listed per finding; the count says how many more

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DatasetReport:
    """What the pre-flight found. ``problems`` stop work (one line each, naming the file);
    the rest is for the user to judge."""

    root: Path
    format: str
    classes: tuple[str, ...]
    pictures: int
    splits: tuple[tuple[str, int], ...]
    class_pixels: tuple[int, ...]
    class_pictures: tuple[int, ...]
    ignore_pixels: int
    empty: tuple[str, ...] = ()
    images_without_labels: tuple[str, ...] = ()
    labels_without_images: tuple[str, ...] = ()
    duplicates: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def shares(self) -> tuple[float, ...]:
        """Each class's share of the labelled (not ignored) pixels."""
        total = sum(self.class_pixels)
        return tuple(n / total if total else 0.0 for n in self.class_pixels)

    def check(self) -> None:
        """Raises the first problem as an :class:`InputError` (saying how many more)."""
        if self.problems:
            more = len(self.problems) - 1
            raise InputError(self.problems[0] + (f" (and {more} more problems)" if more else ""))

    def lines(self) -> list[str]:
        """The report as text, one finding per line."""
        shares = ", ".join(f"{name} {share:.2%} ({pics})" for name, share, pics in
                           zip(self.classes, self.shares, self.class_pictures))
        total = sum(self.class_pixels) + self.ignore_pixels
        count = len(self.classes)
        out = [f"dataset {self.root} ({self.format}): {self.pictures} labelled pictures, "
               f"{count} class{'es' if count != 1 else ''}"]
        if sum(self.class_pixels):  # nothing to share out when no value could be read
            out.append(f"  class pixels (pictures with the class): {shares}")
        if self.ignore_pixels:
            out.append(f"  ignored pixels: {self.ignore_pixels / total:.2%}")
        if len(self.splits) > 1 or self.splits and self.splits[0][0]:
            out.append("  splits: " + ", ".join(f"{s or '(none)'} {n}" for s, n in self.splits))
        for title, names in (("empty masks (background only)", self.empty),
                             ("pictures without labels (skipped)", self.images_without_labels),
                             ("labels without a picture (skipped)", self.labels_without_images)):
            if names:
                out.append(f"  {title}: {listed(names)}")
        if self.duplicates:
            out.append("  the same picture in two splits: " +
                       listed([f"{a} = {b}" for a, b in self.duplicates]))
        out += [f"  note: {n}" for n in self.notes]
        out += [f"  problem: {p}" for p in self.problems]
        return out


def listed(names: tuple[str, ...] | list[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return f"{len(names)} ({shown}{', …' if len(names) > SHOWN else ''})"


@dataclass
class Tally:
    """One item's scan: its code histogram, or why it could not be read."""

    item: Item
    counts: dict[int, int]
    problem: str = ""


def scan(layout: Layout, ignore: tuple[int, ...] = (),
         progress: Progress | None = None) -> LabelledDataset:
    """Reads every annotation once and returns the dataset with its report."""
    tallies = [tally(item) for item in with_progress(layout.items, progress)]
    value_map, classes, notes, problems = meaning(layout, tallies, ignore)
    colours = layout.colours or palette_colours(layout.items, len(classes))
    report = summary(layout, tallies, value_map, classes, notes, problems)
    return LabelledDataset(layout.root, layout.format, classes, colours, layout.items,
                           value_map, report)


def with_progress(items: tuple[Item, ...], progress: Progress | None):
    for done, item in enumerate(items):
        yield item
        if progress is not None:
            progress(done + 1, len(items))


def tally(item: Item) -> Tally:
    try:
        height, width = item.image_size()
        codes = item.annotation.codes(height, width)
    except InputError as exc:
        return Tally(item, {}, str(exc))
    counts = histogram(codes)
    if codes.shape != (height, width):
        return Tally(item, counts, f"{item.annotation.source}: mask is {codes.shape[1]}x"
                                   f"{codes.shape[0]} but its image is {width}x{height}")
    return Tally(item, counts)


def meaning(layout: Layout, tallies: list[Tally], ignore: tuple[int, ...]
            ) -> tuple[ValueMap, tuple[str, ...], list[str], list[str]]:
    """The value map and class names, with notes and dataset-wide problems."""
    notes, problems = list(layout.notes), []
    if layout.codes is not None:
        if ignore:
            raise InputError(f"{layout.root}: ignore values apply to grey / index masks only; "
                             f"this dataset is {layout.format}")
        return layout.codes, layout.classes or (), notes, problems
    jpeg = [t.item.annotation.source for t in tallies
            if isinstance(t.item.annotation, MaskFile) and
            t.item.annotation.path.suffix.lower() in (".jpg", ".jpeg")]
    if jpeg:
        problems.append(f"{jpeg[0]}: masks saved as JPEG ({len(jpeg)} of them) hold values "
                        "at edges that no class has (lossy compression); save masks as PNG")
    present = {code for t in tallies for code in t.counts}
    rule = id_rule(present, layout.classes, ignore)
    if rule.note:
        notes.append(rule.note)
    if rule.problem:
        problems.append(f"{layout.root}: {rule.problem}")
    return rule.value_map, rule.classes, notes, problems


def summary(layout: Layout, tallies: list[Tally], value_map: ValueMap,
            classes: tuple[str, ...], notes: list[str], problems: list[str]) -> DatasetReport:
    pixels = [0] * len(classes)
    pictures = [0] * len(classes)
    ignored = 0
    empty: list[str] = []
    background = background_id(classes)
    odd_values = []
    for t in tallies:
        unknown = value_map.unknown(t.counts)
        if unknown:
            odd_values.append(f"{t.item.annotation.source}: "
                              f"{unexpected_text(unknown, value_map.colour)}")
        seen = set()
        for code, count in t.counts.items():
            label = value_map.table.get(code)
            if label == IGNORE:
                ignored += count
            elif label is not None:
                pixels[label] += count
                seen.add(label)
        for label in seen:
            pictures[label] += 1
        if not t.problem and not problems and not seen - {background}:
            empty.append(t.item.name)  # (a dataset-wide problem leaves every mask unread)
    # Files that cannot be read first; a dataset-wide problem explains every file's odd
    # values, which are then not listed one by one.
    problems = [t.problem for t in tallies if t.problem] + (problems or odd_values)
    if not layout.items:
        problems.append(f"{layout.root}: no picture has labels ({layout.format})")
    splits: dict[str, int] = {}
    for item in layout.items:
        splits[item.split] = splits.get(item.split, 0) + 1
    return DatasetReport(layout.root, layout.format, classes, len(layout.items),
                         tuple(splits.items()), tuple(pixels), tuple(pictures), ignored,
                         tuple(empty), layout.images_without_labels,
                         layout.labels_without_images, duplicates(layout.items), tuple(notes),
                         tuple(problems))


def duplicates(items: tuple[Item, ...]) -> tuple[tuple[str, str], ...]:
    """Pictures with the same bytes in two different splits (a leak from training into
    validation), found by hashing pictures only when the dataset has several splits."""
    if len({item.split for item in items}) < 2:
        return ()
    first: dict[bytes, Item] = {}
    out = []
    for item in items:
        data = item.image.read_bytes() if isinstance(item.image, Path) else item.image
        key = hashlib.blake2b(data, digest_size=16).digest()
        seen = first.setdefault(key, item)
        if seen is not item and seen.split != item.split:
            out.append((seen.name, item.name))
    return tuple(out)


def palette_colours(items: tuple[Item, ...], count: int) -> tuple[RGB, ...] | None:
    """Class colours from the first palette PNG mask, where masks are palette PNGs."""
    from PIL import Image

    first = next((i.annotation for i in items if isinstance(i.annotation, MaskFile)), None)
    if first is None:
        return None
    try:
        with Image.open(first.path) as image:
            palette = image.getpalette() if image.mode == "P" else None
    except OSError:
        return None
    if not palette or len(palette) < 3 * count:
        return None
    return tuple(tuple(palette[3 * i: 3 * i + 3]) for i in range(count))
