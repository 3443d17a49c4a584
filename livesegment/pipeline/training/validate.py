"""Validation during training: the model in training, on held-back pictures, as it will run.

Each picture goes through the same steps as :class:`~livesegment.core.segmenter.Segmenter`
(resize to the inference size, normalise, logits, upsample + argmax at the picture's own
size), so the figures a run reports are the ones ``eval`` gives for the saved file.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from livesegment.core.masks.postprocess import labels_from_logits
from livesegment.core.masks.preprocess import inference_size, to_model_input
from livesegment.core.metrics import ScoreAccumulator, Scores
from livesegment.pipeline.training.data import TrainingData

SIZE_MULTIPLE = 32


@torch.inference_mode()
def predict_labels(model: nn.Module, bgr: np.ndarray, size: int, mean: tuple[float, ...],
                   std: tuple[float, ...]) -> np.ndarray:
    """HxW uint8 class ids for one picture (``model`` in eval mode)."""
    h, w = bgr.shape[:2]
    x = to_model_input(torch.from_numpy(bgr), inference_size(h, w, size, SIZE_MULTIPLE),
                       mean, std, torch.float32)
    return labels_from_logits(model(x), (h, w)).numpy()


def validate(model: nn.Module, data: TrainingData, ids: Sequence[int], size: int,
             mean: tuple[float, ...], std: tuple[float, ...]) -> Scores:
    """The figures of ``model`` on pictures ``ids``; the model is left in training mode."""
    scores = ScoreAccumulator(data.classes, data.background)
    model.eval()
    try:
        for i in ids:
            sample = data.samples[i]
            scores.add(sample.labels, predict_labels(model, sample.image, size, mean, std))
    finally:
        model.train()
    return scores.scores()


def time_one_picture(model: nn.Module, data: TrainingData, ids: Sequence[int], size: int,
                     mean: tuple[float, ...], std: tuple[float, ...]) -> float:
    """Seconds one validation picture takes (median of up to three): plans the run's time."""
    times = []
    model.eval()
    try:
        for i in list(ids)[:3]:
            start = time.perf_counter()
            predict_labels(model, data.samples[i].image, size, mean, std)
            times.append(time.perf_counter() - start)
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
