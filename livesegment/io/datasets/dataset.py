"""A labelled dataset found on disk: its pictures, their annotations, and what the codes mean.

Format readers (folders.py, coco.py, yolo.py, labelme.py) only find files and parse them into a
:class:`Layout`; the pre-flight (preflight.py) looks at every annotation once and decides what
its values mean; :class:`LabelledDataset` then reads a :class:`Sample` per index.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from livesegment.errors import InputError
from livesegment.io.datasets.annotations import MaskFile, Shapes
from livesegment.io.datasets.records import Sample
from livesegment.io.datasets.values import RGB, ValueMap
from livesegment.io.images import decode_image, read_header, read_image

Annotation = MaskFile | Shapes


@dataclass(frozen=True)
class Item:
    """One picture and its annotation. ``image`` is a file, or the encoded bytes of a picture
    embedded in its annotation (LabelMe's ``imageData``); ``size`` (H, W) where the annotation
    states it, so the pre-flight need not open the picture."""

    name: str
    split: str
    image: Path | bytes
    annotation: Annotation
    size: tuple[int, int] | None = None

    def read_image(self) -> np.ndarray:
        if isinstance(self.image, Path):
            return read_image(self.image)
        return decode_image(self.image, f"the picture embedded in {self.annotation.source}")

    def image_size(self) -> tuple[int, int]:
        """(H, W) of the picture as viewers show it (EXIF turns applied), from its header."""
        if self.size is not None:
            return self.size
        if not isinstance(self.image, Path):
            return self.read_image().shape[:2]
        return header_size(self.image)


def header_size(path: Path) -> tuple[int, int]:
    """(H, W) as viewers show the picture, from its header where Pillow parses it (a size over
    the memory budget refused there), else by decoding it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read image {path}: {exc.strerror}") from None
    header = read_header(data, f"image {path}")
    if header is None:
        return read_image(path).shape[:2]
    turned = header.orientation in (5, 6, 7, 8)
    return (header.width, header.height) if turned else (header.height, header.width)


@dataclass(frozen=True)
class Layout:
    """What a format reader found: pictures with annotations and what the dataset declares.

    ``classes``/``colours`` are None where the files do not say (plain mask folders); ``codes``
    is the value map when the reader knows it already (polygon formats paint class ids, colour
    masks have their table), None for grey/index masks whose meaning the pre-flight decides.
    """

    format: str
    root: Path
    items: tuple[Item, ...]
    classes: tuple[str, ...] | None = None
    colours: tuple[RGB, ...] | None = None
    codes: ValueMap | None = None
    images_without_labels: tuple[str, ...] = ()
    labels_without_images: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class LabelledDataset:
    """Random access to the samples of a dataset whose pre-flight found no problem.

    ``dataset[i]`` reads picture ``i`` and its labels from disk each time (nothing cached: a
    trainer's loader workers each read their own).
    """

    root: Path
    format: str
    classes: tuple[str, ...]
    colours: tuple[RGB, ...] | None
    items: tuple[Item, ...]
    value_map: ValueMap
    report: object  # preflight.DatasetReport (typed loosely: it imports this module)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Sample]:
        return (self[i] for i in range(len(self.items)))

    def __getitem__(self, index: int) -> Sample:
        item = self.items[index]
        image = item.read_image()
        height, width = image.shape[:2]
        codes = item.annotation.codes(height, width)
        if codes.shape != (height, width):
            raise InputError(f"{item.annotation.source}: mask is {codes.shape[1]}x"
                             f"{codes.shape[0]} but its image is {width}x{height}")
        labels = self.value_map.apply(codes, item.annotation.source)
        path = item.image if isinstance(item.image, Path) else None
        return Sample(item.name, image, labels, self.classes, item.split, path)

    @property
    def splits(self) -> tuple[str, ...]:
        """The dataset's own splits in the order first seen ("" alone when it has none)."""
        return tuple(dict.fromkeys(item.split for item in self.items))

    def subset(self, split: str) -> LabelledDataset:
        """The pictures of one split (same classes and value map)."""
        if split not in self.splits:
            raise InputError(f"dataset {self.root} has no split '{split}' (it has: "
                             f"{', '.join(s or '(none)' for s in self.splits)})")
        return replace(self, items=tuple(i for i in self.items if i.split == split))

    @property
    def background(self) -> int:
        return background_id(self.classes)


BACKGROUND_NAMES = {"background", "_background_", "bg", "backgroundclass"}


def is_background(name: str) -> bool:
    return re.sub(r"[\s\-]", "", name.lower()) in BACKGROUND_NAMES


def background_id(classes: tuple[str, ...]) -> int:
    """The class that means "nothing of interest": one named so, else id 0."""
    return next((i for i, name in enumerate(classes) if is_background(name)), 0)
