"""Evaluation figures on small crafted masks, each worked out by hand in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from livesegment.core.metrics import ScoreAccumulator, boundary_pixels, confusion

X = 255


def grid(*rows: str) -> np.ndarray:
    return np.array([[X if c == "x" else int(c) for c in row] for row in rows], np.uint8)


def scores_of(pairs, classes=("background", "thing"), **options):
    acc = ScoreAccumulator(classes, **options)
    for truth, prediction in pairs:
        acc.add(truth, prediction)
    return acc.scores()


CASES = [
    # truth 0011/0011, prediction 0111/0001: matrix [[3, 1], [1, 3]]
    ("symmetric", [(grid("0011", "0011"), grid("0111", "0001"))],
     {"matrix": [[3, 1], [1, 3]], "iou": (0.6, 0.6), "dice": (0.75, 0.75),
      "precision": (0.75, 0.75), "recall": (0.75, 0.75), "pixel_accuracy": 0.75,
      "miou": 0.6}),
    # ignore pixel left out: truth 0x/11, prediction 00/01 -> [[1, 0], [1, 1]]
    ("ignore", [(grid("0x", "11"), grid("00", "01"))],
     {"matrix": [[1, 0], [1, 1]], "iou": (0.5, 0.5), "dice": (2 / 3, 2 / 3),
      "precision": (0.5, 1.0), "recall": (1.0, 0.5), "pixel_accuracy": 2 / 3, "miou": 0.5}),
    # two pictures summed before the ratio: [[2, 0], [0, 0]] + [[0, 0], [1, 1]]
    ("summed", [(grid("00"), grid("00")), (grid("11"), grid("01"))],
     {"matrix": [[2, 0], [1, 1]], "iou": (2 / 3, 0.5), "precision": (2 / 3, 1.0),
      "recall": (1.0, 0.5), "pixel_accuracy": 0.75, "miou": (2 / 3 + 0.5) / 2}),
    # class never predicted: precision has no meaning (None), recall and IoU are 0
    ("never predicted", [(grid("01"), grid("00"))],
     {"iou": (0.5, 0.0), "precision": (0.5, None), "recall": (1.0, 0.0), "miou": 0.25}),
    # class never in the truth but predicted: recall None, precision and IoU 0
    ("false alarm", [(grid("00"), grid("01"))],
     {"iou": (0.5, 0.0), "precision": (1.0, 0.0), "recall": (0.5, None), "miou": 0.25}),
    # everything ignored: no figure at all, not NaN
    ("all ignored", [(grid("xx"), grid("01"))],
     {"iou": (None, None), "pixel_accuracy": None, "miou": None}),
]


def same(got, expected) -> bool:
    """Equal figures, where None (no meaning) must stay None."""
    if expected is None or got is None:
        return got is expected
    if isinstance(expected, tuple):
        return len(got) == len(expected) and all(map(same, got, expected))
    return got == pytest.approx(expected)


@pytest.mark.parametrize("name, pairs, expected", CASES, ids=[c[0] for c in CASES])
def test_pixel_figures(name, pairs, expected):
    scores = scores_of(pairs)
    for figure, value in expected.items():
        got = getattr(scores, figure)
        if figure == "matrix":
            np.testing.assert_array_equal(got, value)
        else:
            assert same(got, value), (figure, got, value)


def test_absent_class_is_left_out_of_the_mean_not_nan():
    # classes 0, 1, 2; class 2 in neither truth nor prediction. Truth 0001, prediction 0011:
    # class 0: 2 / (2 + 0 + 1); class 1: 1 / (1 + 1 + 0)
    scores = scores_of([(grid("0001"), grid("0011"))], ("background", "a", "b"))
    assert same(scores.iou, (2 / 3, 0.5, None)) and scores.dice[2] is None
    assert scores.miou == pytest.approx((2 / 3 + 0.5) / 2)
    assert scores.foreground_miou == pytest.approx(0.5)


def test_per_picture_miou_ranks_pictures():
    acc = ScoreAccumulator(("background", "thing"))
    assert acc.add(grid("0001"), grid("0001")) == pytest.approx(1.0)
    assert acc.add(grid("0001"), grid("0011")) == pytest.approx((2 / 3 + 0.5) / 2)


def test_confusion_rejects_ids_past_the_classes():
    with pytest.raises(ValueError, match="past the 2 classes"):
        confusion(grid("02"), grid("00"), 2)


def test_boundary_pixels_skip_ignore_and_picture_edges():
    labels = grid("001x",
                  "0011")
    expected = np.array([[0, 1, 1, 0],
                         [0, 1, 1, 0]], bool)
    np.testing.assert_array_equal(boundary_pixels(labels), expected)


TRUTH = grid(*["000111"] * 6)  # class 0 edge: column 2; class 1 edge: column 3


@pytest.mark.parametrize("prediction, tolerance, expected", [
    (TRUTH, 0.5, (1.0, 1.0)),
    (grid(*["000011"] * 6), 0.5, (0.0, 0.0)),  # edges one pixel off, tolerance half a pixel
    (grid(*["000011"] * 6), 1.0, (1.0, 1.0)),  # ... within one pixel
    # top half right, bottom half all class 0. Predicted class-0 edge: (0..2, 2) and
    # (3, 3..5); class 1: (0..2, 3) and (2, 4..5). Within 1 px of the true edges:
    # class 0: P 4/6 ((0..2,2), (3,3)), R 4/6 ((0..3, 2)) -> F 2/3
    # class 1: P 4/5 ((0..2,3), (2,4)), R 4/6 ((0..3, 3)) -> F 2*0.8*(2/3)/(0.8+2/3) = 8/11
    (grid(*["000111"] * 3, *["000000"] * 3), 1.0, (2 / 3, 8 / 11)),
])
def test_boundary_f_score(prediction, tolerance, expected):
    scores = scores_of([(TRUTH, prediction)], tolerance=tolerance)
    assert scores.boundary_f == pytest.approx(expected)
    assert scores.mean_boundary_f == pytest.approx(sum(expected) / 2)


def test_boundary_f_counts_sum_over_pictures():
    # picture 1 perfect (6 + 6 edge pixels each side), picture 2 off by one at tolerance 0.5
    scores = scores_of([(TRUTH, TRUTH), (TRUTH, grid(*["000011"] * 6))], tolerance=0.5)
    np.testing.assert_array_equal(scores.boundary, [[6, 12, 6, 12], [6, 12, 6, 12]])
    assert scores.boundary_f == pytest.approx((0.5, 0.5))


def test_contains_the_class_precision_and_recall_over_pictures():
    pictures = [(grid("0110"), grid("0010")),   # has it, found: true positive
                (grid("0000"), grid("0110")),   # hasn't, 2 pixels predicted: false alarm
                (grid("0100"), grid("0000")),   # has it, missed
                (grid("0000"), grid("0000"))]   # hasn't, none predicted
    scores = scores_of(pictures)
    np.testing.assert_array_equal(scores.images[1], [1, 1, 1])
    assert scores.image_precision[1] == pytest.approx(0.5)
    assert scores.image_recall[1] == pytest.approx(0.5)
    strict = scores_of(pictures, min_pixels=2)  # one predicted pixel no longer counts
    np.testing.assert_array_equal(strict.images[1], [0, 1, 2])
    assert strict.image_precision[1] == 0.0 and strict.image_recall[1] == 0.0


def test_contains_ignores_predictions_under_ignored_truth():
    scores = scores_of([(grid("00xx"), grid("0011"))])
    np.testing.assert_array_equal(scores.images[1], [0, 0, 0])
    assert scores.image_precision[1] is None and scores.image_recall[1] is None
