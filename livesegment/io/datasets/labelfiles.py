"""The files of a label folder (labelstore.py) as bytes on disk: written whole or not at all.

Every write goes to a temporary file in the folder's hidden ``.livesegment/`` directory and is
renamed into place (``os.replace``: atomic on one file system), so a crash or a killed process
leaves either the old file or the new one, and never a half-written or temporary picture in
``images/`` or ``masks/`` where the dataset reader would find it.

The class files are the reader's own formats: ``labelmap.txt`` (CVAT's ``name:R,G,B::``, which
the image + mask reader takes names and colours from) and ``classes.txt`` (names only, for
tools that read no colours). The COCO document holds one RLE per class per labelled picture:
run lengths keep every pixel, holes included, where polygons would lose them.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from livesegment.errors import InputError, OutputError, av_reason
from livesegment.io.datasets.classnames import read_labelmap
from livesegment.io.datasets.dataset import Layout
from livesegment.io.datasets.folders import scan_pairs
from livesegment.io.datasets.values import RGB
from livesegment.io.paths import atomic_target

STATE_DIR = ".livesegment"   # ours: the marker, the frames' state, the draft, temporary files
STATE_FILE = "label.json"
DRAFT_FILE = "draft.npz"
PENDING_FILE = "pending.json"  # the pictures whose mask changed after the last state write
TEMP_DIR = "tmp"
FORMAT = "livesegment-labels"
Entry = tuple[int, dict]  # (class id, COCO RLE with ``counts`` as text)
Coded = tuple[int, int, list[Entry]]  # a labelled picture's height, width and class RLEs


def state_path(folder: Path) -> Path:
    return folder / STATE_DIR / STATE_FILE


def is_label_folder(folder: Path) -> bool:
    """A folder this store made: its state file exists (written before anything else)."""
    return state_path(folder).is_file()


def made_from_video(folder: Path) -> bool:
    """A label folder of a video's frames (a model trained on them is meant for live use)."""
    if not is_label_folder(folder):
        return False
    try:
        return read_json(state_path(folder)).get("video") is not None
    except InputError:
        return False


def write_bytes(folder: Path, final: Path, data: bytes) -> None:
    """``data`` swapped in whole (io/paths.py's atomic_target), written first in the folder's
    hidden temp directory so that a half-written file never sits where the reader looks; an
    OSError is a one-line OutputError naming ``final``."""
    temp_dir = folder / STATE_DIR / TEMP_DIR
    try:
        temp_dir.mkdir(parents=True, exist_ok=True)
        with atomic_target(final, temp_dir / f"{os.getpid()}-{final.name}") as tmp:
            tmp.write_bytes(data)
    except OSError as exc:
        raise OutputError(f"cannot write {final}: {av_reason(exc)}") from None


def write_json(folder: Path, final: Path, doc: object) -> None:
    write_bytes(folder, final, json.dumps(doc, separators=(",", ":")).encode("utf-8"))


def write_png(folder: Path, final: Path, picture: np.ndarray) -> None:
    ok, encoded = cv2.imencode(".png", picture)
    if not ok:
        raise OutputError(f"cannot encode {final} as PNG")
    write_bytes(folder, final, encoded.tobytes())


def clear_temp(folder: Path) -> None:
    """Temporary files a killed process left behind (never seen by the reader: hidden)."""
    temp_dir = folder / STATE_DIR / TEMP_DIR
    if temp_dir.is_dir():
        for leftover in temp_dir.iterdir():
            leftover.unlink(missing_ok=True)


def read_json(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") \
            from None
    if not isinstance(doc, dict):
        raise InputError(f"{path} is not a livesegment label state")
    return doc


def read_json_list(path: Path) -> list:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []
    return doc if isinstance(doc, list) else []


# -- classes --------------------------------------------------------------------------------
def labelmap_text(names: Iterable[str], colours: Iterable[RGB]) -> str:
    lines = ["# label:color_rgb:parts:actions"]
    lines += [f"{n}:{r},{g},{b}::" for n, (r, g, b) in zip(names, colours)]
    return "\n".join(lines) + "\n"


def write_classes(folder: Path, names: tuple[str, ...], colours: tuple[RGB, ...]) -> None:
    """``labelmap.txt`` (names and colours) then ``classes.txt`` (names): the reader takes
    the labelmap when both exist, so the pair is never read half-updated as a clash."""
    write_bytes(folder, folder / "labelmap.txt", labelmap_text(names, colours).encode())
    write_bytes(folder, folder / "classes.txt", ("\n".join(names) + "\n").encode())


def read_classes(folder: Path) -> tuple[tuple[str, ...], tuple[RGB, ...]]:
    path = folder / "labelmap.txt"
    if not path.is_file():
        raise InputError(f"{folder} lost its labelmap.txt (the classes and their colours)")
    return read_labelmap(path)


# -- masks and COCO -------------------------------------------------------------------------
def read_mask(path: Path) -> np.ndarray:
    labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if labels is None or labels.ndim != 2 or labels.dtype != np.uint8:
        raise InputError(f"cannot read mask {path}: not a one-channel 8-bit PNG")
    return labels


def coded(labels: np.ndarray) -> Coded:
    """One COCO RLE per class present (background left out), exact to the pixel."""
    from pycocotools import mask as coco_mask

    out: list[Entry] = []
    present = np.flatnonzero(np.bincount(labels.ravel(), minlength=1))
    for class_id in present[present > 0]:
        rle = coco_mask.encode(np.asfortranarray(labels == class_id, dtype=np.uint8))
        out.append((int(class_id), {"size": [int(v) for v in rle["size"]],
                                    "counts": rle["counts"].decode("ascii")}))
    return labels.shape[0], labels.shape[1], out


def decode_rle(rle: dict) -> np.ndarray:
    """HxW bool from an RLE written by :func:`coded` (what a COCO reader does)."""
    from pycocotools import mask as coco_mask

    with warnings.catch_warnings():  # pycocotools 2.0 on numpy 2: a harmless copy= warning
        warnings.simplefilter("ignore", DeprecationWarning)
        return coco_mask.decode({"size": rle["size"],
                                 "counts": rle["counts"].encode("ascii")}).astype(bool)


def coco_document(keys: list[str], entries: dict[str, Coded],
                  names: tuple[str, ...], colours: tuple[RGB, ...]) -> dict:
    """COCO JSON of the labelled pictures only (an unlabelled one listed with no annotation
    would read as all background). Categories are the classes past background, their id the
    class id; ``color`` is an extension other readers pass over."""
    from pycocotools import mask as coco_mask

    images, annotations = [], []
    for number, key in enumerate(keys, 1):
        if key not in entries:
            continue
        height, width, rles = entries[key]
        for class_id, rle in rles:
            encoded = {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
            annotations.append({
                "id": len(annotations) + 1, "image_id": number, "category_id": class_id,
                "segmentation": rle, "area": int(coco_mask.area(encoded)),
                "bbox": [float(v) for v in coco_mask.toBbox(encoded)], "iscrowd": 0})
        images.append({"id": number, "file_name": f"images/{key}", "width": width,
                       "height": height})
    categories = [{"id": i, "name": n, "supercategory": "",
                   "color": "#{:02x}{:02x}{:02x}".format(*colours[i])}
                  for i, n in enumerate(names) if i > 0]
    return {"info": {"description": "labelled with livesegment"}, "licenses": [],
            "images": images, "annotations": annotations, "categories": categories}


def read_coded(doc: dict, keys: set[str]) -> dict[str, Coded]:
    """The RLEs of our own COCO document back, per picture (a KeyError or TypeError for a
    document not written by :func:`coco_document`)."""
    out: dict[int, tuple[str, Coded]] = {}
    for image in doc["images"]:
        key = str(image["file_name"]).removeprefix("images/")
        if key in keys:
            out[int(image["id"])] = (key, (int(image["height"]), int(image["width"]), []))
    for ann in doc["annotations"]:
        if int(ann["image_id"]) in out:
            seg = ann["segmentation"]
            out[int(ann["image_id"])][1][2].append(
                (int(ann["category_id"]), {"size": list(seg["size"]), "counts": seg["counts"]}))
    return dict(out.values())


# -- the reader's side ----------------------------------------------------------------------
def scan_label_folder(root: Path, classes: tuple[str, ...] | None) -> Layout | None:
    """A folder a label store wrote is read as its image + mask pairs (with the labelmap's
    names and colours), not through the COCO copy beside them, which the reader would
    otherwise find first: the masks are the store's own record."""
    if not root.is_dir() or not is_label_folder(root):
        return None
    return scan_pairs(root, classes)
