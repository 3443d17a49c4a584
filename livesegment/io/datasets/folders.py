"""Image + mask folders: plain pairs (``images/`` + ``masks/``, any usual names, splits as
subfolders either way round) and PASCAL VOC / CVAT "Segmentation mask" exports.

Masks are matched to pictures by their path below the two folders, ignoring the suffix and a
``_mask``/``_label``/``_gt`` tag, so ``images/train/a.jpg`` pairs with ``masks/train/a.png``
or ``masks/train/a_mask.png``.
"""

from __future__ import annotations

import re
from pathlib import Path

from livesegment.core.compose.palette import voc_palette
from livesegment.errors import InputError
from livesegment.io.datasets.annotations import MaskFile
from livesegment.io.datasets.classnames import agree, read_class_names, read_labelmap, read_text
from livesegment.io.datasets.dataset import Item, Layout
from livesegment.io.datasets.values import colour_map
from livesegment.io.images import IMAGE_SUFFIXES

IMAGE_DIRS = ("images", "image", "imgs", "img", "jpegimages", "pictures", "photos", "inputs")
MASK_DIRS = ("masks", "mask", "labels", "label", "annotations", "segmentationclass", "gt",
             "groundtruth", "ground_truth", "targets", "segmentations")
SPLIT_NAMES = ("train", "training", "val", "valid", "validation", "test", "testing", "eval")
MASK_SUFFIXES = {".png", ".bmp", ".tif", ".tiff", ".gif", ".jpg", ".jpeg", ".webp", ".pgm"}
_TAG = re.compile(r"[_\-.](mask|masks|label|labels|gt|seg|segmentation|annotation)$", re.I)
VOC_NAMES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)


def child(folder: Path, names: tuple[str, ...]) -> Path | None:
    """The first subfolder whose lower-cased name is one of ``names`` (in their order)."""
    found = {p.name.lower(): p for p in folder.iterdir() if p.is_dir()}
    return next((found[n] for n in names if n in found), None)


def pictures(folder: Path, suffixes: set[str]) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in suffixes and p.is_file())


def mask_key(relative: Path) -> str:
    stem = _TAG.sub("", relative.with_suffix("").name)
    return str(relative.parent / stem).lower()


def find_pair(root: Path) -> tuple[Path, Path] | None:
    """(image folder, mask folder) directly in ``root``, or in each split folder of it."""
    images, masks = child(root, IMAGE_DIRS), child(root, MASK_DIRS)
    if images is not None and masks is not None:
        return images, masks
    return None


def scan_pairs(root: Path, classes: tuple[str, ...] | None) -> Layout | None:
    """A plain image + mask folder dataset, or None when ``root`` is not laid out so."""
    pairs: list[tuple[str, Path, Path]] = []
    top = find_pair(root)
    if top is not None:
        pairs = [("", *top)]
    else:
        for split_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            found = find_pair(split_dir)
            if found is not None:
                pairs.append((split_dir.name, *found))
    if not pairs:
        return None
    items, lonely_images, lonely_masks = [], [], []
    for split, image_dir, mask_dir in pairs:
        matched, images_only, masks_only = match(root, image_dir, mask_dir, split)
        items += matched
        lonely_images += images_only
        lonely_masks += masks_only
    colours = None
    labelmap = root / "labelmap.txt"
    if labelmap.is_file():
        declared, colours = read_labelmap(labelmap)
    else:
        declared = declared_names(root, [m for _, _, m in pairs])
    names = agree(declared, classes, labelmap if colours else "the dataset's classes.txt")
    if colours is not None:
        items = [with_colours(i, colours) for i in items]
    return Layout("image+mask folders", root, tuple(items), names, colours,
                  colour_map(colours) if colours else None, tuple(lonely_images),
                  tuple(lonely_masks))


def with_colours(item: Item, colours) -> Item:
    from dataclasses import replace

    return replace(item, annotation=MaskFile(item.annotation.path, colours))


def declared_names(root: Path, mask_dirs: list[Path]) -> tuple[str, ...] | None:
    for folder in (root, *mask_dirs):
        for name in ("classes.txt", "class_names.txt", "labels.txt"):
            if (folder / name).is_file():
                return read_class_names(folder / name)
    return None


def match(root: Path, image_dir: Path, mask_dir: Path,
          split: str) -> tuple[list[Item], list[str], list[str]]:
    """Pictures paired with masks by relative path; the split is a first-level subfolder of
    the image folder when there is one (``images/train/...``)."""
    masks: dict[str, Path] = {}
    for path in pictures(mask_dir, MASK_SUFFIXES):
        key = mask_key(path.relative_to(mask_dir))
        if key in masks:
            raise InputError(f"masks {masks[key]} and {path} are for the same picture; keep one")
        masks[key] = path
    items, lonely = [], []
    for path in pictures(image_dir, IMAGE_SUFFIXES):
        relative = path.relative_to(image_dir)
        name = str(path.relative_to(root))
        mask = masks.pop(mask_key(relative), None)
        if mask is None:
            lonely.append(name)
            continue
        part = split or (relative.parts[0] if len(relative.parts) > 1 and
                         relative.parts[0].lower() in SPLIT_NAMES else "")
        items.append(Item(name, part, path, MaskFile(mask)))
    return items, lonely, [str(p.relative_to(root)) for p in masks.values()]


def scan_voc(root: Path, classes: tuple[str, ...] | None) -> Layout | None:
    """PASCAL VOC / CVAT "Segmentation mask 1.1": ``SegmentationClass/`` colour masks named
    by ``labelmap.txt`` (VOC's 21 classes and colours without it), pictures in
    ``JPEGImages/``, splits listed in ``ImageSets/Segmentation/*.txt``."""
    mask_dir = child(root, ("segmentationclass",))
    if mask_dir is None:
        return None
    image_dir = child(root, ("jpegimages", "images"))
    if image_dir is None:
        raise InputError(f"{root} has masks in {mask_dir.name}/ but no JPEGImages/ folder of "
                         "pictures (export the dataset with its images)")
    labelmap = root / "labelmap.txt"
    if labelmap.is_file():
        names, colours = read_labelmap(labelmap)
        fmt = "CVAT segmentation mask"
    else:
        names, colours = VOC_NAMES, tuple(tuple(int(v) for v in c) for c in voc_palette(21))
        fmt = "PASCAL VOC"
    names = agree(names, classes, labelmap if labelmap.is_file() else "PASCAL VOC")
    matched, lonely_images, lonely_masks = match(root, image_dir, mask_dir, "")
    splits = voc_splits(root)
    items = [Item(i.name, splits.get(Path(i.name).stem, ""), i.image,
                  MaskFile(i.annotation.path, colours)) for i in matched]
    return Layout(fmt, root, tuple(items), names, colours, colour_map(colours),
                  tuple(lonely_images), tuple(lonely_masks))


def voc_splits(root: Path) -> dict[str, str]:
    """Picture stem -> split from ``ImageSets/Segmentation/*.txt`` (``trainval`` left out when
    ``train``/``val`` exist; CVAT's single ``default`` list means no split)."""
    lists = root / "ImageSets" / "Segmentation"
    files = {p.stem: p for p in lists.glob("*.txt")} if lists.is_dir() else {}
    if {"train", "val"} <= files.keys():
        files.pop("trainval", None)
    files.pop("default", None)
    out: dict[str, str] = {}
    for split, path in sorted(files.items()):
        for stem in read_text(path):
            out.setdefault(stem.split()[0], split)
    return out
