"""Ultralytics YOLO-seg: ``data.yaml`` (``path``, ``train``/``val``/``test``, ``names``) and a
``labels/…/name.txt`` of ``class x1 y1 x2 y2 …`` polygons (0..1 of the picture) per picture.

YOLO's classes have no background; here it is class 0 and YOLO class k is class k + 1 (unless
``names`` starts with a background class). A picture without a label file is all background,
as in YOLO.
"""

from __future__ import annotations

from pathlib import Path

from livesegment.errors import InputError
from livesegment.io.datasets.annotations import Polygon, Shapes
from livesegment.io.datasets.classnames import agree, checked_names, read_text
from livesegment.io.datasets.dataset import Item, Layout, is_background
from livesegment.io.datasets.folders import pictures
from livesegment.io.datasets.values import identity_map
from livesegment.io.images import IMAGE_SUFFIXES

SPLITS = ("train", "val", "test")


def find_yaml(root: Path) -> Path | None:
    if root.is_file():
        return root if root.suffix.lower() in (".yaml", ".yml") else None
    for path in sorted([*root.glob("*.yaml"), *root.glob("*.yml")],
                       key=lambda p: (p.stem != "data", p.name)):
        if "names:" in path.read_text(encoding="utf-8", errors="replace"):
            return path
    return None


def read_yaml(path: Path) -> dict:
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise InputError(f"{path} is not valid YAML{where}") from None
    if not isinstance(doc, dict) or "names" not in doc:
        raise InputError(f"{path} has no 'names' list of classes")
    return doc


def yolo_names(doc: dict, path: Path) -> tuple[str, ...]:
    names = doc["names"]
    if isinstance(names, dict):
        try:
            keys = sorted(int(k) for k in names)
        except ValueError:
            raise InputError(f"{path}: 'names' keys must be class numbers") from None
        if keys != list(range(len(keys))):
            raise InputError(f"{path}: 'names' must number the classes 0, 1, 2, ...")
        names = [names[k] if k in names else names[str(k)] for k in keys]
    if not isinstance(names, list):
        raise InputError(f"{path}: 'names' is neither a list nor a mapping")
    return tuple(str(n) for n in names)


def scan_yolo(root: Path, classes: tuple[str, ...] | None) -> Layout | None:
    yaml_path = find_yaml(root)
    if yaml_path is None:
        return None
    doc = read_yaml(yaml_path)
    yolo = yolo_names(doc, yaml_path)
    offset = 0 if yolo and is_background(yolo[0]) else 1
    names = agree(checked_names(("background",) * offset + yolo, yaml_path), classes, yaml_path)
    base = dataset_base(doc, yaml_path)
    items: list[Item] = []
    for split in SPLITS:
        entries = doc.get(split)
        for image in split_images(base, entries if isinstance(entries, list) else [entries],
                                  yaml_path):
            label = label_path(image)
            shapes = read_polygons(label, len(yolo), offset) if label.is_file() else ()
            items.append(Item(name_below(image, base), split, image,
                              Shapes(label, shapes, normalised=True)))
    if not items:
        raise InputError(f"{yaml_path}: its train/val/test entries name no pictures under {base}")
    return Layout("YOLO-seg", base, tuple(items), names, None, identity_map(len(names)))


def dataset_base(doc: dict, yaml_path: Path) -> Path:
    """``path:`` resolved against the YAML's folder; a dataset moved since it was written
    (an absolute path that is gone) is read from the YAML's folder."""
    given = doc.get("path")
    if not given:
        return yaml_path.parent
    base = Path(str(given)).expanduser()
    base = base if base.is_absolute() else yaml_path.parent / base
    return base if base.is_dir() else yaml_path.parent


def split_images(base: Path, entries: list, yaml_path: Path) -> list[Path]:
    out: list[Path] = []
    for entry in entries:
        if entry is None:
            continue
        target = base / str(entry)
        if target.is_dir():
            out += pictures(target, IMAGE_SUFFIXES)
        elif target.suffix.lower() == ".txt" and target.is_file():
            out += [base / line for line in read_text(target)]
        else:
            raise InputError(f"{yaml_path}: '{entry}' is neither a folder of pictures nor a "
                             f"list file under {base}")
    return out


def label_path(image: Path) -> Path:
    """``…/images/train/a.jpg`` -> ``…/labels/train/a.txt`` (the last ``images`` part)."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def name_below(path: Path, base: Path) -> str:
    return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)


def read_polygons(path: Path, count: int, offset: int) -> tuple[Polygon, ...]:
    """One polygon per line; a detection box (5 numbers) or a broken line is an error that
    names the file and line."""
    shapes = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            values = [float(v) for v in line.split()]
        except ValueError:
            raise InputError(f"{path} line {number}: not numbers: '{line.strip()[:40]}'") from None
        cls = values[0]
        if len(values) == 5:
            raise InputError(f"{path} line {number}: a detection box (class x y w h), not a "
                             "polygon; segmentation needs YOLO-seg polygon labels")
        if len(values) < 7 or len(values) % 2 == 0:
            raise InputError(f"{path} line {number}: a polygon needs a class and at least 3 "
                             "x y pairs")
        if cls != int(cls) or not 0 <= cls < count:
            raise InputError(f"{path} line {number}: class {values[0]:g} is not one of "
                             f"0..{count - 1} in data.yaml")
        shapes.append(Polygon(int(cls) + offset, (tuple(values[1:]),)))
    return tuple(shapes)
