"""COCO JSON, YOLO-seg and LabelMe: crafted tiny datasets whose labels are known exactly.

Coordinates are continuous (pixel x covers [x, x+1)), so the polygon 1,1 4,1 4,3 1,3 covers
columns 1..3 of rows 1..2.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask

from livesegment.errors import InputError
from livesegment.io.datasets import IGNORE, open_dataset
from tests.io.labelled import H, W, ids, picture, write_picture

BOX = [1, 1, 4, 1, 4, 3, 1, 3]


def box_labels(value: int) -> np.ndarray:
    out = np.zeros((H, W), np.uint8)
    out[1:3, 1:4] = value
    return out


def write_json(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def coco_doc(annotations: list[dict], categories: list[dict], files=("a.png",)) -> dict:
    images = [{"id": i + 1, "file_name": f, "width": W, "height": H} for i, f in enumerate(files)]
    for i, ann in enumerate(annotations):
        ann.setdefault("id", i + 1)
        ann.setdefault("image_id", 1)
    return {"images": images, "annotations": annotations, "categories": categories}


CATS = [{"id": 3, "name": "scratch", "supercategory": "defect"},
        {"id": 7, "name": "dent", "supercategory": "defect"}]


def test_coco_polygons_and_rle_in_category_order(tmp_path):
    write_picture(tmp_path / "images" / "a.png", picture())
    right = np.zeros((H, W), np.uint8, order="F")
    right[:, 5] = 1
    rle = coco_mask.encode(np.asfortranarray(right))
    rle["counts"] = rle["counts"].decode("ascii")
    uncompressed = {"size": [H, W], "counts": [4, 2, 18]}  # column-major: pixels (0,1),(1,1)
    write_json(tmp_path / "annotations" / "instances.json", coco_doc([
        {"category_id": 7, "segmentation": [BOX]},
        {"category_id": 3, "segmentation": rle, "iscrowd": 1},
        {"category_id": 3, "segmentation": uncompressed, "iscrowd": 1},
        {"category_id": 3, "bbox": [0, 0, 1, 1]},  # no segmentation: skipped, noted
    ], CATS))
    dataset = open_dataset(tmp_path)
    assert dataset.format == "COCO"
    assert dataset.classes == ("background", "scratch", "dent")
    expected = box_labels(2)
    expected[:, 5] = 1
    expected[0:2, 1] = 1  # the uncompressed RLE, painted after the polygon
    np.testing.assert_array_equal(dataset[0].labels, expected)
    np.testing.assert_array_equal(dataset[0].image, picture())
    assert any("1 annotations with no segmentation skipped" in n for n in dataset.report.notes)


def test_coco_later_shapes_paint_over_earlier_and_pictures_without_shapes_are_empty(tmp_path):
    for name in ("a.png", "b.png"):
        write_picture(tmp_path / name, picture())
    write_json(tmp_path / "coco.json", coco_doc([
        {"category_id": 3, "segmentation": [[0, 0, 6, 0, 6, 4, 0, 4]]},
        {"category_id": 7, "segmentation": [BOX]},
    ], CATS, files=("a.png", "b.png")))
    dataset = open_dataset(tmp_path / "coco.json")
    expected = np.ones((H, W), np.uint8)
    expected[1:3, 1:4] = 2
    np.testing.assert_array_equal(dataset[0].labels, expected)
    np.testing.assert_array_equal(dataset[1].labels, np.zeros((H, W), np.uint8))
    assert dataset.report.empty == ("b.png",)
    assert dataset.report.class_pictures == (1, 1, 1)


def test_coco_roboflow_supercategory_is_not_a_class(tmp_path):
    write_picture(tmp_path / "train" / "a.png", picture())
    cats = [{"id": 0, "name": "defects", "supercategory": "none"},
            {"id": 1, "name": "scratch", "supercategory": "defects"}]
    write_json(tmp_path / "train" / "_annotations.coco.json",
               coco_doc([{"category_id": 1, "segmentation": [BOX]}], cats))
    dataset = open_dataset(tmp_path)
    assert dataset.classes == ("background", "scratch")
    np.testing.assert_array_equal(dataset[0].labels, box_labels(1))


def test_coco_missing_picture_is_reported_and_bad_category_named(tmp_path):
    write_picture(tmp_path / "a.png", picture())
    doc = coco_doc([{"category_id": 3, "segmentation": [BOX]}], CATS, files=("a.png", "gone.png"))
    write_json(tmp_path / "coco.json", doc)
    dataset = open_dataset(tmp_path)
    assert dataset.report.images_without_labels == ("gone.png",)  # its picture is missing
    assert len(dataset) == 1
    doc["annotations"][0]["category_id"] = 99
    write_json(tmp_path / "coco.json", doc)
    with pytest.raises(InputError, match=r"coco\.json: annotation 1 has category 99"):
        open_dataset(tmp_path)


def test_broken_coco_json_names_the_file_and_line(tmp_path):
    (tmp_path / "coco.json").write_text('{"images": [], "annotations": [\n  oops ]}')
    with pytest.raises(InputError, match=r"coco\.json is not valid JSON \(line 2"):
        open_dataset(tmp_path / "coco.json")


def yolo_dataset(root: Path, labels: dict[str, str], names: str = "[scratch, dent]") -> Path:
    for i, (name, text) in enumerate(labels.items()):
        split, stem = name.split("/")
        write_picture(root / "images" / split / f"{stem}.png", picture(i))
        if text is not None:
            (root / "labels" / split).mkdir(parents=True, exist_ok=True)
            (root / "labels" / split / f"{stem}.txt").write_text(text)
    splits = sorted({name.split("/")[0] for name in labels})
    (root / "data.yaml").write_text("path: /nowhere/moved\n" + "".join(
        f"{split}: images/{split}\n" for split in splits) + f"names: {names}\n")
    return root


def test_yolo_seg_polygons_normalised_with_background_first(tmp_path):
    # x in sixths, y in quarters of the 6x4 picture: the box 1..4 x 1..3
    box = "1 0.1666667 0.25 0.6666667 0.25 0.6666667 0.75 0.1666667 0.75\n"
    root = yolo_dataset(tmp_path, {"train/a": box, "val/b": None})
    dataset = open_dataset(root)
    assert dataset.format == "YOLO-seg"
    assert dataset.classes == ("background", "scratch", "dent")
    np.testing.assert_array_equal(dataset[0].labels, box_labels(2))  # YOLO class 1 = dent
    assert [s.split for s in dataset] == ["train", "val"]
    np.testing.assert_array_equal(dataset[1].labels, np.zeros((H, W), np.uint8))
    assert dataset.report.empty == ("images/val/b.png",)


def test_yolo_names_as_a_mapping(tmp_path):
    root = yolo_dataset(tmp_path, {"train/a": "0 0 0 1 0 1 1 0 1\n"},
                        names="{0: crack}")
    dataset = open_dataset(root)
    assert dataset.classes == ("background", "crack")
    np.testing.assert_array_equal(dataset[0].labels, np.ones((H, W), np.uint8))


@pytest.mark.parametrize("line, message", [
    ("0 0.5 0.5 0.2 0.2", "a detection box"),
    ("2 0 0 1 0 1 1", r"class 2 is not one of 0\.\.1"),
    ("0 0 0 1 0 1", "a polygon needs a class and at least 3 x y pairs"),
    ("0 a b c d e f", "not numbers"),
])
def test_yolo_bad_line_names_file_and_line(tmp_path, line, message):
    root = yolo_dataset(tmp_path, {"train/a": "0 0 0 1 0 1 1\n" + line + "\n"})
    with pytest.raises(InputError, match=r"labels/train/a\.txt line 2: " + message):
        open_dataset(root)


def labelme_doc(shapes: list[dict], image_path: str | None = "a.png",
                image_data: str | None = None) -> dict:
    return {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": image_path,
            "imageData": image_data, "imageHeight": H, "imageWidth": W}


def shape(label: str, points, kind: str = "polygon", **extra) -> dict:
    return {"label": label, "points": points, "group_id": None, "shape_type": kind,
            "flags": {}, **extra}


def png_base64(mask: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def test_labelme_shapes_with_labels_file(tmp_path):
    write_picture(tmp_path / "a.png", picture())
    patch = np.array([[1, 0], [1, 1]], bool)
    write_json(tmp_path / "a.json", labelme_doc([
        shape("car", [[1, 1], [4, 1], [4, 3], [1, 3]]),
        shape("person", [[4, 3], [0, 2]], "rectangle"),  # corners in any order: x 0..4, y 2..3
        shape("__ignore__", [[5, 0], [6, 1]], "rectangle"),
        shape("car", [[4, 0], [5, 1]], "mask", mask=png_base64(patch)),
        shape("person", [[0, 0], [3, 3]], "line"),  # no area: counted, not painted
    ]))
    (tmp_path / "labels.txt").write_text("__ignore__\n_background_\nperson\ncar\n")
    dataset = open_dataset(tmp_path)
    assert dataset.format == "LabelMe"
    assert dataset.classes == ("_background_", "person", "car")
    expected = ids("....2x",
                   ".22222",
                   "1111..",
                   "......")
    expected[1, 1:4] = 2
    expected[2, 1:4] = 1  # the rectangle over the polygon's second row
    np.testing.assert_array_equal(dataset[0].labels, expected)
    assert dataset[0].name == "a" and dataset[0].labels[0, 5] == IGNORE
    assert any("1 lines/points" in n for n in dataset.report.notes)


def test_labelme_embedded_picture_and_classes_from_labels(tmp_path):
    ok, encoded = cv2.imencode(".png", picture(3))
    data = base64.b64encode(encoded.tobytes()).decode("ascii")
    write_json(tmp_path / "train" / "x.json",
               labelme_doc([shape("wire", [[1, 1], [4, 1], [4, 3], [1, 3]])], "gone.png", data))
    dataset = open_dataset(tmp_path)
    assert dataset.classes == ("background", "wire")
    sample = dataset[0]
    np.testing.assert_array_equal(sample.image, picture(3))
    np.testing.assert_array_equal(sample.labels, box_labels(1))
    assert sample.split == "train" and sample.path is None


def test_labelme_circle(tmp_path):
    write_picture(tmp_path / "a.png", np.zeros((9, 9, 3), np.uint8))
    doc = labelme_doc([shape("dot", [[4.5, 4.5], [4.5, 2.0]], "circle")])
    doc["imageHeight"] = doc["imageWidth"] = 9
    write_json(tmp_path / "a.json", doc)
    labels = open_dataset(tmp_path)[0].labels
    yy, xx = np.mgrid[:9, :9]
    inside = (xx + 0.5 - 4.5) ** 2 + (yy + 0.5 - 4.5) ** 2 < 2.5 ** 2  # pixel centres
    np.testing.assert_array_equal(labels, inside.astype(np.uint8))


def test_labelme_label_outside_the_classes_given(tmp_path):
    write_picture(tmp_path / "a.png", picture())
    write_json(tmp_path / "a.json", labelme_doc([shape("cat", [[0, 0], [2, 0], [2, 2]])]))
    with pytest.raises(InputError, match=r"a\.json: shape 1 has label 'cat', which is not one "
                                         "of the classes"):
        open_dataset(tmp_path, classes=("background", "dog"))


@pytest.mark.parametrize("setup, message", [
    (lambda root: None, "is empty"),
    (lambda root: (root / "notes.txt").write_text("hi"), "no labelled dataset found"),
])
def test_folder_that_is_no_dataset(tmp_path, setup, message):
    setup(tmp_path)
    with pytest.raises(InputError, match=message):
        open_dataset(tmp_path)


def test_missing_dataset(tmp_path):
    with pytest.raises(InputError, match="dataset not found"):
        open_dataset(tmp_path / "nope")
