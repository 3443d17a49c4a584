"""Segmentation figures from a confusion matrix accumulated over pictures (no I/O).

Pixels are summed over the whole dataset before any ratio is taken (MMSegmentation's and
Ultralytics' convention): a class's IoU is its pixels' IoU, not an average of per-picture
IoUs. Pixels labelled ``ignore`` in the truth count nowhere.

A figure that has no meaning is ``None``, never NaN: IoU and Dice of a class that is neither in
the truth nor in the prediction, precision of a class never predicted, recall of a class never
present. Means (mIoU ...) are taken over the classes where the figure exists, so a class absent
from a dataset neither scores 0 nor turns the mean into NaN.

Two more views of the same pictures:

* boundary F-score: per class, the share of predicted boundary pixels within ``tolerance``
  pixels of a true boundary (precision) and of true boundary pixels within ``tolerance`` of a
  predicted one (recall), counted over all pictures (Csurka et al., BMVC 2013);
* "contains the class": per picture, does the truth have the class, does the prediction (at
  least ``min_pixels`` pixels)? Precision and recall over pictures: what quality control asks
  ("which parts have a defect?").
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

IGNORE = 255
Figure = float | None


def confusion(truth: np.ndarray, prediction: np.ndarray, num_classes: int,
              ignore: int = IGNORE) -> np.ndarray:
    """CxC pixel counts, rows = true class, columns = predicted class; ``ignore`` left out."""
    if truth.shape != prediction.shape:
        raise ValueError(f"truth {truth.shape} and prediction {prediction.shape} differ")
    valid = truth != ignore
    t = truth[valid].astype(np.int64)
    p = prediction[valid].astype(np.int64)
    if t.size and (t.max() >= num_classes or p.max() >= num_classes):
        raise ValueError(f"a class id is past the {num_classes} classes")
    return np.bincount(t * num_classes + p, minlength=num_classes ** 2).reshape(
        num_classes, num_classes)


def ratio(numerator: float, denominator: float) -> Figure:
    return float(numerator / denominator) if denominator else None


def mean(values: tuple[Figure, ...], skip: int | None = None) -> Figure:
    """Mean of the figures that exist (leaving out class ``skip``); None if none does."""
    kept = [v for i, v in enumerate(values) if v is not None and i != skip]
    return float(np.mean(kept)) if kept else None


def harmonic(p: Figure, r: Figure) -> Figure:
    if p is None and r is None:
        return None
    p, r = p or 0.0, r or 0.0
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


@dataclass(frozen=True, eq=False)
class Scores:
    """Every figure of one evaluation, per class in class-id order."""

    classes: tuple[str, ...]
    background: int
    matrix: np.ndarray  # CxC int64 pixels, rows truth, columns prediction
    boundary: np.ndarray  # Cx4: matched predicted, predicted, matched true, true boundary px
    images: np.ndarray  # Cx3: pictures with the class in truth & prediction, only prediction,
    #                     only truth
    pictures: int
    tolerance: float
    min_pixels: int

    def _diag(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tp = np.diag(self.matrix).astype(np.float64)
        return tp, self.matrix.sum(0) - tp, self.matrix.sum(1) - tp

    @property
    def iou(self) -> tuple[Figure, ...]:
        tp, fp, fn = self._diag()
        return tuple(ratio(a, a + b + c) for a, b, c in zip(tp, fp, fn))

    @property
    def dice(self) -> tuple[Figure, ...]:
        tp, fp, fn = self._diag()
        return tuple(ratio(2 * a, 2 * a + b + c) for a, b, c in zip(tp, fp, fn))

    @property
    def precision(self) -> tuple[Figure, ...]:
        tp, fp, _ = self._diag()
        return tuple(ratio(a, a + b) for a, b in zip(tp, fp))

    @property
    def recall(self) -> tuple[Figure, ...]:
        tp, _, fn = self._diag()
        return tuple(ratio(a, a + c) for a, c in zip(tp, fn))

    @property
    def pixel_accuracy(self) -> Figure:
        return ratio(np.trace(self.matrix), self.matrix.sum())

    @property
    def miou(self) -> Figure:
        return mean(self.iou)

    @property
    def foreground_miou(self) -> Figure:
        """mIoU without the background class: the defect classes of a defect dataset."""
        return mean(self.iou, skip=self.background)

    @property
    def boundary_f(self) -> tuple[Figure, ...]:
        return tuple(harmonic(ratio(mp, tp), ratio(mt, tt)) for mp, tp, mt, tt in self.boundary)

    @property
    def mean_boundary_f(self) -> Figure:
        return mean(self.boundary_f)

    @property
    def image_precision(self) -> tuple[Figure, ...]:
        return tuple(ratio(both, both + only_p) for both, only_p, _ in self.images)

    @property
    def image_recall(self) -> tuple[Figure, ...]:
        return tuple(ratio(both, both + only_t) for both, _, only_t in self.images)

    @property
    def true_pixels(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self.matrix.sum(1))


def boundary_pixels(labels: np.ndarray, ignore: int | None = IGNORE) -> np.ndarray:
    """HxW bool: pixels with a 4-neighbour of another class. A neighbour that is ``ignore``
    is no boundary (the edge of an unlabelled band says nothing), nor is the picture's edge."""
    vertical = labels[1:] != labels[:-1]
    horizontal = labels[:, 1:] != labels[:, :-1]
    if ignore is not None:
        vertical &= (labels[1:] != ignore) & (labels[:-1] != ignore)
        horizontal &= (labels[:, 1:] != ignore) & (labels[:, :-1] != ignore)
    out = np.zeros(labels.shape, bool)
    out[1:] |= vertical
    out[:-1] |= vertical
    out[:, 1:] |= horizontal
    out[:, :-1] |= horizontal
    return out


def near(edges: np.ndarray, tolerance: float) -> np.ndarray:
    """HxW bool: pixels within ``tolerance`` (Euclidean) of an ``edges`` pixel."""
    if not edges.any():
        return np.zeros(edges.shape, bool)
    distance = cv2.distanceTransform((~edges).astype(np.uint8), cv2.DIST_L2,
                                     cv2.DIST_MASK_PRECISE)
    return distance <= tolerance + 1e-6


def boundary_counts(truth: np.ndarray, prediction: np.ndarray, num_classes: int,
                    tolerance: float, ignore: int = IGNORE) -> np.ndarray:
    """Cx4 for one picture: matched predicted, predicted, matched true, true boundary pixels.
    Pixels the truth ignores are no boundary on either side."""
    counted = truth != ignore
    true_edges = boundary_pixels(truth, ignore) & counted
    predicted_edges = boundary_pixels(prediction, None) & counted
    out = np.zeros((num_classes, 4), np.int64)
    for c in np.union1d(truth[true_edges], prediction[predicted_edges]):
        t = true_edges & (truth == c)
        p = predicted_edges & (prediction == c)
        out[c] = ((p & near(t, tolerance)).sum(), p.sum(), (t & near(p, tolerance)).sum(),
                  t.sum())
    return out


class ScoreAccumulator:
    """Adds pictures one at a time; :meth:`scores` gives the figures so far."""

    def __init__(self, classes: tuple[str, ...], background: int = 0, ignore: int = IGNORE,
                 tolerance: float = 2.0, min_pixels: int = 1) -> None:
        n = len(classes)
        self.classes, self.background, self.ignore = classes, background, ignore
        self.tolerance, self.min_pixels = tolerance, min_pixels
        self.matrix = np.zeros((n, n), np.int64)
        self.boundary = np.zeros((n, 4), np.int64)
        self.images = np.zeros((n, 3), np.int64)
        self.pictures = 0

    def add(self, truth: np.ndarray, prediction: np.ndarray) -> Figure:
        """Counts one picture; returns its own mIoU (over the classes it or its prediction
        has) to rank pictures from worst to best."""
        n = len(self.classes)
        matrix = confusion(truth, prediction, n, self.ignore)
        self.matrix += matrix
        self.boundary += boundary_counts(truth, prediction, n, self.tolerance, self.ignore)
        has_truth = matrix.sum(1) > 0
        has_prediction = matrix.sum(0) >= self.min_pixels
        self.images[:, 0] += has_truth & has_prediction
        self.images[:, 1] += ~has_truth & has_prediction
        self.images[:, 2] += has_truth & ~has_prediction
        self.pictures += 1
        tp = np.diag(matrix)
        union = matrix.sum(0) + matrix.sum(1) - tp
        return mean(tuple(ratio(a, u) for a, u in zip(tp, union)))

    def scores(self) -> Scores:
        return Scores(self.classes, self.background, self.matrix.copy(), self.boundary.copy(),
                      self.images.copy(), self.pictures, self.tolerance, self.min_pixels)
