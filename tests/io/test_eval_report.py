"""An evaluation's files: JSON and CSV figures, the confusion-matrix picture, the worst grid."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest

from livesegment.io.eval_report import (
    CONFUSED, FALSE_ALARM, FOUND, IGNORED, MISSED, confusion_picture, error_picture,
    write_confusion_picture, write_csv, write_json, write_worst_grid,
)
from livesegment.pipeline.validate import Validator
from tests.conftest import fake_segmenter
from tests.pipeline.test_validate import SIDE, person_dataset


@pytest.fixture
def result(tmp_path):
    return Validator(fake_segmenter(SIDE), person_dataset(tmp_path / "data")).run()


def test_json_holds_every_figure(result, tmp_path):
    doc = json.loads(write_json(result, tmp_path / "eval.json").read_text())
    assert doc["model"] == "espnetv2-voc" and doc["pictures"] == 2
    assert doc["map"] == {"person": ["person"]}
    person = doc["classes"][1]
    assert person["name"] == "person" and person["true_pixels"] == 2560
    assert person["iou"] == pytest.approx(0.8) and person["precision"] == 1.0
    assert doc["miou"] == pytest.approx((5632 / 6144 + 0.8) / 2, abs=1e-6)
    assert doc["confusion"]["pixels"] == [[5632, 0], [512, 2048]]
    assert [w["name"] for w in doc["worst"]] == ["images/b.png", "images/a.png"]


def test_csv_rows_per_class_and_mean(result, tmp_path):
    rows = list(csv.reader(write_csv(result, tmp_path / "eval.csv").open()))
    assert rows[0][:3] == ["class", "iou", "dice"]
    assert [r[0] for r in rows[1:]] == ["background", "person", "mean"]
    assert float(rows[2][1]) == pytest.approx(0.8)
    assert float(rows[3][1]) == pytest.approx((5632 / 6144 + 0.8) / 2, abs=1e-6)
    assert rows[2][-1] == "2560"


def test_error_picture_paints_each_outcome():
    image = np.full((1, 6, 3), 100, np.uint8)
    truth = np.array([[0, 1, 1, 2, 255, 0]], np.uint8)
    prediction = np.array([[0, 0, 1, 1, 1, 2]], np.uint8)
    out = error_picture(image, truth, prediction, background=0)
    expected = [(100, 100, 100), MISSED, FOUND, CONFUSED, IGNORED, FALSE_ALARM]
    for x, colour in enumerate(expected):
        want = (100,) * 3 if x == 0 else tuple(50 + c // 2 for c in colour)
        assert tuple(out[0, x]) == want, x


def test_confusion_picture_shades_by_row_share():
    picture = confusion_picture(np.array([[3, 1], [0, 4]]), ("background", "person"))
    assert picture.ndim == 3 and picture.dtype == np.uint8
    levels = sorted({tuple(p) for p in picture.reshape(-1, 3)
                     if p[0] == 255 and p[1] == p[2] and p[1] < 255})
    # cells at 75 %, 25 %, 0 % and 100 %: 255 - 200 * share on green and red (text aside)
    assert {(255, 55, 55), (255, 105, 105), (255, 205, 205)} <= set(levels)


def test_pictures_are_written(result, tmp_path):
    matrix = write_confusion_picture(result, tmp_path / "confusion.png")
    grid = write_worst_grid(result, tmp_path / "worst.png")
    assert cv2.imread(str(matrix)) is not None
    worst = cv2.imread(str(grid))
    assert worst.shape[1] == 4 * 320 and worst.shape[0] == 28 + 342
