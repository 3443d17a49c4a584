"""COCO JSON (``images``, ``annotations``, ``categories``): polygons and RLE masks.

Categories become classes 1..K in id order after background 0 (a category named background
takes 0 instead). Roboflow's exports add a category that is only the others' supercategory and
labels nothing; it is left out rather than becoming a class no pixel has.
"""

from __future__ import annotations

import json
from pathlib import Path

from livesegment.errors import InputError
from livesegment.io.datasets.annotations import Polygon, Rle, Shape, Shapes
from livesegment.io.datasets.classnames import agree, checked_names
from livesegment.io.datasets.dataset import Item, Layout, is_background
from livesegment.io.datasets.values import identity_map

SPLIT_HINTS = ("train", "val", "valid", "test")


def is_coco(doc: object) -> bool:
    return isinstance(doc, dict) and {"images", "annotations", "categories"} <= doc.keys()


def load_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None


def coco_files(root: Path) -> list[Path]:
    """COCO JSON files at ``root`` (a file), in it, in ``annotations/``, or in split folders.
    LabelMe files (a ``shapes`` list near the start) are passed over unparsed."""
    if root.is_file():
        return [root] if root.suffix.lower() == ".json" and is_coco(load_json(root)) else []
    candidates = {*root.glob("*.json"), *root.glob("annotations/*.json"), *root.glob("*/*.json")}
    found = []
    for path in sorted(candidates):
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
        if b'"shapes"' not in head and head.lstrip().startswith(b"{") and \
                is_coco(load_json(path)):
            found.append(path)
    return found


def split_of(path: Path, root: Path, several: bool) -> str:
    """``instances_val2017.json`` -> val2017, ``train/_annotations.coco.json`` -> train."""
    if not several:
        return ""
    stem = path.name.split(".")[0].removeprefix("instances_").strip("_")
    if stem and stem != "annotations" and any(h in stem.lower() for h in SPLIT_HINTS):
        return stem
    return path.parent.name if path.parent != root else stem


def scan_coco(root: Path, classes: tuple[str, ...] | None) -> Layout | None:
    files = coco_files(root)
    if not files:
        return None
    base = root if root.is_dir() else root.parent
    docs = [(path, load_json(path)) for path in files]
    names, ids = categories(docs, classes)
    items, missing, notes = [], [], []
    for path, doc in docs:
        split = split_of(path, base, len(docs) > 1)
        found, lost, skipped = items_of(doc, path, base, split, ids)
        items += found
        missing += lost
        if skipped:
            notes.append(f"{path.name}: {skipped} annotations with no segmentation skipped")
    return Layout("COCO", base, tuple(items), names, category_colours(docs, ids, len(names)),
                  identity_map(len(names)), tuple(missing), (), tuple(notes))


def categories(docs: list[tuple[Path, dict]],
               classes: tuple[str, ...] | None) -> tuple[tuple[str, ...], dict[int, int]]:
    """Class names and category id -> class id, the same for every file of the dataset."""
    cats: dict[int, dict] = {}
    used: set[int] = set()
    for path, doc in docs:
        for cat in doc["categories"]:
            try:
                cid, name = int(cat["id"]), str(cat["name"])
            except (KeyError, TypeError, ValueError):
                raise InputError(f"{path}: a category without an id and a name") from None
            if cats.setdefault(cid, cat)["name"] != name:
                raise InputError(f"{path}: category {cid} is '{name}' here and "
                                 f"'{cats[cid]['name']}' in another file")
        used |= {a.get("category_id") for a in doc["annotations"] if isinstance(a, dict)}
    supers = {cats[c].get("supercategory") for c in used if c in cats}
    ordered = [c for c in sorted(cats) if c in used or cats[c]["name"] not in supers]
    background = [c for c in ordered if is_background(cats[c]["name"])][:1]
    rest = [c for c in ordered if c not in background]
    ids = {c: i + 1 for i, c in enumerate(rest)}
    ids.update({c: 0 for c in background})
    names = [cats[background[0]]["name"] if background else "background",
             *(cats[c]["name"] for c in rest)]
    names = agree(checked_names(names, docs[0][0]), classes, docs[0][0])
    return names, ids


def category_colours(docs: list[tuple[Path, dict]], ids: dict[int, int],
                     count: int) -> tuple[tuple[int, int, int], ...] | None:
    """Class colours where every class past background states one (``"color": "#rrggbb"``
    or ``[r, g, b]``, as our label folders and some tools write); background is black unless
    it says otherwise. None where any is missing: the model's palette then picks them."""
    colours: dict[int, tuple[int, int, int]] = {0: (0, 0, 0)}
    for _, doc in docs:
        for cat in doc["categories"]:
            rgb = parse_colour(cat.get("color"))
            if rgb is not None and int(cat["id"]) in ids:
                colours[ids[int(cat["id"])]] = rgb
    if any(i not in colours for i in range(count)):
        return None
    return tuple(colours[i] for i in range(count))


def parse_colour(value: object) -> tuple[int, int, int] | None:
    if isinstance(value, str) and len(value) == 7 and value.startswith("#"):
        try:
            return tuple(int(value[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
        except ValueError:
            return None
    if isinstance(value, list) and len(value) == 3 and all(
            isinstance(v, int) and 0 <= v <= 255 for v in value):
        return tuple(value)  # type: ignore[return-value]
    return None


def image_path(file_name: str, json_path: Path, base: Path, split: str) -> Path | None:
    relative = Path(file_name)
    for folder in (json_path.parent, base, base / "images", json_path.parent.parent / "images",
                   base / split, base / "images" / split, json_path.parent.parent):
        if (folder / relative).is_file():
            return folder / relative
    return None


def items_of(doc: dict, json_path: Path, base: Path, split: str,
             ids: dict[int, int]) -> tuple[list[Item], list[str], int]:
    shapes: dict[int, list[Shape]] = {}
    skipped = 0
    for ann in doc["annotations"]:
        shape = to_shape(ann, json_path, ids)
        if shape is None:
            skipped += 1
        else:
            shapes.setdefault(ann.get("image_id"), []).append(shape)
    items, missing = [], []
    for image in doc["images"]:
        try:
            iid, file_name = image["id"], str(image["file_name"])
            size = (int(image["height"]), int(image["width"]))
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{json_path}: an image entry lacks id, file_name, width or "
                             "height") from None
        path = image_path(file_name, json_path, base, split)
        if path is None:
            missing.append(file_name)
            continue
        annotation = Shapes(json_path, tuple(shapes.get(iid, ())))
        name = str(path.relative_to(base)) if path.is_relative_to(base) else str(path)
        items.append(Item(name, split, path, annotation, size))
    return items, missing, skipped


def to_shape(ann: object, json_path: Path, ids: dict[int, int]) -> Shape | None:
    if not isinstance(ann, dict):
        raise InputError(f"{json_path}: an annotation is not an object")
    cid = ann.get("category_id")
    if cid not in ids:
        raise InputError(f"{json_path}: annotation {ann.get('id')} has category {cid}, which "
                         "is not in its categories")
    seg = ann.get("segmentation")
    if isinstance(seg, list):
        parts = tuple(tuple(float(v) for v in p) for p in seg if isinstance(p, list))
        if any(len(p) % 2 for p in parts):
            raise InputError(f"{json_path}: annotation {ann.get('id')} has a polygon with an "
                             "odd number of coordinates")
        return Polygon(ids[cid], parts) if parts else None
    if isinstance(seg, dict) and "counts" in seg and "size" in seg:
        return Rle(ids[cid], seg)
    return None
