"""Validation during training: the model being trained, on held-back pictures, through the
same :class:`~livesegment.pipeline.validate.Validator` as ``eval`` (and so the same steps as
every front end: resize to the inference size, normalise, logits, upsample + argmax at the
picture's own size). The figures a run reports are the ones ``eval`` gives for its file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from livesegment.core.metrics import Scores
from livesegment.core.models.zoo import ModelSpec
from livesegment.core.segmenter import Segmenter
from livesegment.io.datasets.records import Sample
from livesegment.pipeline.training.data import TrainingData
from livesegment.pipeline.validate import Validator


class HeldBack:
    """Pictures ``ids`` of ``data`` read the way the Validator reads a dataset."""

    def __init__(self, data: TrainingData, ids: Sequence[int]) -> None:
        self.data, self.ids = data, list(ids)
        self.classes, self.background = data.classes, data.background
        self.root = Path(data.source)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> Sample:
        return self.data.samples[self.ids[index]]


def _validator(model: nn.Module, spec: ModelSpec, data: TrainingData, ids: Sequence[int],
               size: int) -> Validator:
    segmenter = Segmenter(spec, model, torch.device("cpu"), size)
    return Validator(segmenter, HeldBack(data, ids), keep_worst=0)


def validate(model: nn.Module, spec: ModelSpec, data: TrainingData, ids: Sequence[int],
             size: int) -> Scores:
    """The figures of ``model`` (described by ``spec``) on pictures ``ids``; the model is
    back in training mode afterwards."""
    model.eval()
    try:
        return _validator(model, spec, data, ids, size).run().scores
    finally:
        model.train()


def time_one_picture(model: nn.Module, spec: ModelSpec, data: TrainingData,
                     ids: Sequence[int], size: int,
                     clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds one validation picture takes (median of up to three): plans the run's time."""
    validator = _validator(model, spec, data, ids, size)
    times = []
    model.eval()
    try:
        for sample in (data.samples[i] for i in list(ids)[:3]):
            start = clock()
            validator.predict(sample.image)
            times.append(clock() - start)
    finally:
        model.train()
    return float(np.median(times)) if times else 0.0


def figures(scores: Scores) -> dict[str, object]:
    """The figures a model card and results.csv keep (None where a figure has no meaning)."""
    return {
        "miou": scores.miou,
        "foreground_miou": scores.foreground_miou,
        "pixel_accuracy": scores.pixel_accuracy,
        "iou": dict(zip(scores.classes, scores.iou)),
        "pictures": scores.pictures,
    }
