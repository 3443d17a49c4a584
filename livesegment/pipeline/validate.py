"""Evaluation: any model over a labelled dataset, giving one frozen :class:`EvalResult`.

The validator is an object (as Ultralytics' is) so the ``eval`` command, the Python API and a
trainer's validation step share it; commands only parse options and print. The model's classes
are mapped onto the dataset's (``person`` of a 21-class VOC model onto a person dataset's
``person``; every other model class onto the dataset's background), the figures come from
core/metrics.py, and the pictures it got most wrong are kept for the report's grid.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from livesegment.core.frames import Frame
from livesegment.core.metrics import ScoreAccumulator, Scores
from livesegment.core.segmenter import Segmenter, mask_labels
from livesegment.errors import InputError
from livesegment.io.datasets import LabelledDataset

KEEP_WORST = 8
Progress = Callable[[int, int, float], None]  # pictures done, total, seconds elapsed


@dataclass(frozen=True, eq=False)
class ClassMapping:
    """Model class id -> dataset class id (``table``), and for the report which model classes
    each dataset class got and which dataset classes the model cannot predict."""

    table: np.ndarray  # uint8, one entry per model class
    pairs: tuple[tuple[str, tuple[str, ...]], ...]
    unpredicted: tuple[str, ...]

    def apply(self, model_labels: np.ndarray) -> np.ndarray:
        return self.table[model_labels]


def parse_map(text: str | None) -> dict[str, tuple[str, ...]]:
    """``person=person,vehicle=car+bus`` -> {dataset class: model classes}."""
    if not text:
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for entry in (e.strip() for e in text.split(",") if e.strip()):
        name, sep, models = entry.partition("=")
        wanted = tuple(m.strip() for m in models.split("+") if m.strip())
        if not sep or not name.strip() or not wanted:
            raise InputError(f"--map entry '{entry}' is not DATASET_CLASS=MODEL_CLASS[+...]")
        out[name.strip()] = wanted
    return out


def map_classes(dataset_classes: tuple[str, ...], dataset_background: int, model,
                explicit: Mapping[str, tuple[str, ...]] | None = None) -> ClassMapping:
    """Maps ``model``'s classes (a ModelSpec) onto the dataset's: by name, then ``explicit``
    pairs on top; the model's background and every unmapped class go to the dataset's
    background."""
    table = np.full(model.num_classes, dataset_background, np.uint8)
    assigned: dict[int, list[str]] = {}
    keys = {name.lower(): i for i, name in enumerate(dataset_classes)}
    model_names = {c.lower(): c for c in model.categories}
    for i, name in enumerate(dataset_classes):
        if i != dataset_background and name.lower() in model_names:
            assigned[i] = [model_names[name.lower()]]
    for name, models in (explicit or {}).items():
        if name.lower() not in keys:
            raise InputError(f"--map: the dataset has no class '{name}' (classes: "
                             f"{', '.join(dataset_classes)})")
        target = keys[name.lower()]
        for other in assigned.values():  # a model class goes to one dataset class only
            other[:] = [m for m in other if m not in models]
        assigned[target] = [model.categories[model.class_id(m)] for m in models]
    for target, models in assigned.items():
        for m in models:
            table[model.class_id(m)] = target
    if not any(assigned.values()):
        raise InputError(f"model {model.name} has none of the dataset's classes "
                         f"({', '.join(dataset_classes)}); give --map DATASET_CLASS=MODEL_CLASS")
    pairs = tuple((dataset_classes[t], tuple(m)) for t, m in sorted(assigned.items()) if m)
    unpredicted = tuple(n for i, n in enumerate(dataset_classes)
                        if i != dataset_background and not assigned.get(i))
    return ClassMapping(table, pairs, unpredicted)


@dataclass(frozen=True, eq=False)
class WorstPicture:
    """A picture the model got badly wrong, with what it predicted (dataset class ids)."""

    name: str
    score: float  # the picture's own mIoU
    image: np.ndarray
    truth: np.ndarray
    prediction: np.ndarray


@dataclass(frozen=True, eq=False)
class EvalResult:
    """One model on one dataset: the figures, the speed and the worst pictures."""

    model: str
    dataset: str
    size: int
    refine: bool
    mapping: ClassMapping
    scores: Scores
    model_seconds: float  # preprocessing, inference and labels, without reading files
    fps: float | None  # pictures per second of model time, the first (warm-up) left out
    worst: tuple[WorstPicture, ...]
    interrupted: bool = False
    tile: bool = False  # segmented in tiles at full detail (core/masks/tiles.py)


class Validator:
    """Runs ``segmenter`` over ``dataset`` and scores it against the dataset's labels."""

    def __init__(self, segmenter: Segmenter, dataset: LabelledDataset,
                 mapping: Mapping[str, tuple[str, ...]] | None = None, refine: bool = False,
                 tolerance: float = 2.0, min_pixels: int = 1,
                 keep_worst: int = KEEP_WORST, tile: bool = False) -> None:
        self.segmenter = segmenter
        self.dataset = dataset
        self.mapping = map_classes(dataset.classes, dataset.background, segmenter.spec, mapping)
        self.refine = refine and not tile  # a tiled model sees every pixel already
        self.tolerance = tolerance
        self.min_pixels = min_pixels
        self.keep_worst = keep_worst
        self.tile = tile

    def predict(self, image: np.ndarray, index: int = 0) -> np.ndarray:
        """The model's labels for one BGR picture, in dataset class ids."""
        if self.tile:
            labels = self.segmenter.tile_labels(self.segmenter.upload(image),
                                                f"picture {index}")
        else:
            labels = mask_labels(self.segmenter.infer(Frame(index, 0.0, image)), self.refine)
        return self.mapping.apply(labels.cpu().numpy())

    def run(self, progress: Progress | None = None,
            stop: threading.Event | None = None) -> EvalResult:
        acc = ScoreAccumulator(self.dataset.classes, self.dataset.background,
                               tolerance=self.tolerance, min_pixels=self.min_pixels)
        worst: list[tuple[float, int, WorstPicture]] = []
        times: list[float] = []
        start = time.perf_counter()
        total = len(self.dataset)
        for index in range(total):
            if stop is not None and stop.is_set():
                break
            sample = self.dataset[index]
            t0 = time.perf_counter()
            prediction = self.predict(sample.image, index)
            times.append(time.perf_counter() - t0)
            score = acc.add(sample.labels, prediction)
            self._keep(worst, index, score, sample, prediction)
            if progress is not None:
                progress(index + 1, total, time.perf_counter() - start)
        timed = times[1:] or times
        return EvalResult(
            self.segmenter.spec.name, str(self.dataset.root), self.segmenter.size, self.refine,
            self.mapping, acc.scores(), sum(times),
            len(timed) / sum(timed) if timed and sum(timed) > 0 else None,
            tuple(w for _, _, w in sorted(worst, key=lambda e: (-e[0], -e[1]))),
            interrupted=len(times) < total, tile=self.tile)

    def _keep(self, heap: list, index: int, score: float | None, sample, prediction) -> None:
        """Keeps the ``keep_worst`` lowest-scoring pictures (a max-heap on the score)."""
        if score is None or self.keep_worst <= 0:
            return
        entry = (-score, -index, WorstPicture(sample.name, score, sample.image, sample.labels,
                                              prediction))
        if len(heap) < self.keep_worst:
            heapq.heappush(heap, entry)
        elif -score > heap[0][0]:
            heapq.heapreplace(heap, entry)
