"""LabelMe: a JSON file per picture with its ``shapes`` (polygon, rectangle, circle, mask).

Class order comes from a ``labels.txt`` beside the files (labelme2voc's convention:
``__ignore__`` is the ignore label, ``_background_`` the background), else from the classes
given, else from the labels found, sorted, after background. Lines and points have no area
and are counted, not painted.
"""

from __future__ import annotations

import base64
import binascii
import math
from pathlib import Path

from livesegment.errors import InputError
from livesegment.io.datasets.annotations import Patch, Polygon, Shape, Shapes, decode_png_patch
from livesegment.io.datasets.classnames import agree, checked_names, read_text
from livesegment.io.datasets.coco import load_json
from livesegment.io.datasets.dataset import Item, Layout, is_background
from livesegment.io.datasets.folders import SPLIT_NAMES
from livesegment.io.datasets.records import IGNORE
from livesegment.io.datasets.values import ValueMap

AREA_SHAPES = ("polygon", "rectangle", "circle", "mask")
IGNORE_LABEL = "__ignore__"
CIRCLE_VERTICES = 64


def labelme_files(root: Path) -> list[tuple[Path, dict]]:
    """(file, document) for each LabelMe JSON in ``root`` or a subfolder of it."""
    if not root.is_dir():
        return []
    found = []
    for path in sorted([*root.glob("*.json"), *root.glob("*/*.json")]):
        with open(path, "rb") as fh:
            if b'"shapes"' not in fh.read(1 << 16):
                continue
        doc = load_json(path)
        if isinstance(doc, dict) and isinstance(doc.get("shapes"), list):
            found.append((path, doc))
    return found


def scan_labelme(root: Path, classes: tuple[str, ...] | None) -> Layout | None:
    files = labelme_files(root)
    if not files:
        return None
    names = class_names(root, files, classes)
    ids = {n: i for i, n in enumerate(names)}
    ids[IGNORE_LABEL] = IGNORE
    items, missing, skipped = [], [], 0
    for path, doc in files:
        shapes, flat = parse_shapes(path, doc, ids)
        skipped += flat
        image = picture_of(path, doc)
        if image is None:
            missing.append(str(path.relative_to(root)))
            continue
        size = (doc.get("imageHeight"), doc.get("imageWidth"))
        split = path.parent.name if path.parent != root and \
            path.parent.name.lower() in SPLIT_NAMES else ""
        name = str(path.relative_to(root).with_suffix(""))
        items.append(Item(name, split, image, Shapes(path, shapes),
                          size if all(isinstance(v, int) and v > 0 for v in size) else None))
    notes = (f"{skipped} lines/points (no area) not painted",) if skipped else ()
    table = {**{i: i for i in range(len(names))}, IGNORE: IGNORE}
    return Layout("LabelMe", root, tuple(items), names, None, ValueMap(table), tuple(missing),
                  (), notes)


def class_names(root: Path, files: list[tuple[Path, dict]],
                classes: tuple[str, ...] | None) -> tuple[str, ...]:
    """Background first (unpainted pixels are class 0), then the named classes."""
    listed = root / "labels.txt"
    declared = None
    if listed.is_file():
        declared = checked_names([n for n in read_text(listed) if n != IGNORE_LABEL], listed)
    names = agree(declared, classes, listed)
    if names is None:
        found = {str(s.get("label")) for _, doc in files for s in doc["shapes"]
                 if isinstance(s, dict)} - {IGNORE_LABEL}
        names = tuple(sorted(found, key=lambda n: (not is_background(n), n)))
    where = [i for i, n in enumerate(names) if is_background(n)]
    if not where:
        return ("background", *names)
    if where != [0]:
        raise InputError(f"class '{names[where[-1]]}' is a background class but not the first "
                         f"({', '.join(names)}); list it first")
    return tuple(names)


def picture_of(path: Path, doc: dict) -> Path | bytes | None:
    """The picture file beside the JSON, else the picture embedded in it."""
    given = doc.get("imagePath")
    if isinstance(given, str) and given:
        candidate = path.parent / given.replace("\\", "/")
        if candidate.is_file():
            return candidate
    data = doc.get("imageData")
    if isinstance(data, str) and data:
        try:
            return base64.b64decode(data, validate=False)
        except (binascii.Error, ValueError):
            raise InputError(f"{path}: imageData is not base64") from None
    return None


def parse_shapes(path: Path, doc: dict, ids: dict[str, int]) -> tuple[tuple[Shape, ...], int]:
    shapes: list[Shape] = []
    flat = 0
    for number, shape in enumerate(doc["shapes"], 1):
        kind = (shape.get("shape_type") or "polygon") if isinstance(shape, dict) else None
        if kind not in AREA_SHAPES:
            if kind is None:
                raise InputError(f"{path}: shape {number} is not an object")
            flat += 1
            continue
        label = str(shape.get("label"))
        if label not in ids:
            raise InputError(f"{path}: shape {number} has label '{label}', which is not one of "
                             f"the classes ({', '.join(k for k in ids if k != IGNORE_LABEL)})")
        shapes.append(to_shape(path, number, kind, shape, ids[label]))
    return tuple(shapes), flat


def to_shape(path: Path, number: int, kind: str, shape: dict, class_id: int) -> Shape:
    try:
        points = [(float(x), float(y)) for x, y in shape.get("points") or []]
    except (TypeError, ValueError):
        raise InputError(f"{path}: shape {number} has points that are not x, y pairs") from None
    need = 3 if kind == "polygon" else 2 if kind in ("rectangle", "circle") else 1
    if len(points) < need:
        raise InputError(f"{path}: {kind} shape {number} has {len(points)} points "
                         f"(needs {need})")
    if kind == "mask":
        data = shape.get("mask")
        if not isinstance(data, str):
            raise InputError(f"{path}: mask shape {number} has no mask data")
        try:
            raw = base64.b64decode(data)
        except (binascii.Error, ValueError):
            raise InputError(f"{path}: mask shape {number}: mask is not base64") from None
        left, top = (round(v) for v in points[0])
        return Patch(class_id, left, top, decode_png_patch(raw, path))
    if kind == "rectangle":
        (x1, y1), (x2, y2) = points[:2]
        x1, x2, y1, y2 = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
        points = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
    elif kind == "circle":
        (cx, cy), (px, py) = points[:2]
        radius = math.hypot(px - cx, py - cy)
        points = [(cx + radius * math.cos(2 * math.pi * k / CIRCLE_VERTICES),
                   cy + radius * math.sin(2 * math.pi * k / CIRCLE_VERTICES))
                  for k in range(CIRCLE_VERTICES)]
    return Polygon(class_id, (tuple(v for point in points for v in point),))
