"""The pictures a run learns from, and the batch each step gets.

A step's batch depends on (seed, step) only: which pictures (a seeded permutation per epoch,
so each picture is seen once per epoch) and every augmentation draw (a generator seeded with
(seed, step)). Nothing carries over from one step to the next, which is why a run stopped at
any step and resumed gets the very same batches it would have had.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from livesegment.core.compose.palette import voc_palette
from livesegment.core.masks.preprocess import to_model_input
from livesegment.errors import InputError
from livesegment.io.datasets import open_dataset
from livesegment.io.datasets.records import Sample
from livesegment.pipeline.training.transforms import AugmentSettings, augment

RGB = tuple[int, int, int]


@dataclass(frozen=True, eq=False)
class TrainingData:
    """Labelled pictures in memory with their class table and per-picture class pixels."""

    samples: tuple[Sample, ...]
    classes: tuple[str, ...]
    colours: tuple[RGB, ...]
    background: int
    source: str                # where they came from (for the model card)
    counts: np.ndarray         # pictures x classes: labelled pixels of each class

    @classmethod
    def from_samples(cls, samples: Iterable[Sample], classes: Sequence[str] | None = None,
                     colours: Sequence[RGB] | None = None, background: int = 0,
                     source: str = "") -> TrainingData:
        """Reads every sample once (a dataset reads its files here) and counts its pixels."""
        samples = tuple(samples)
        if not samples:
            raise ValueError("no labelled pictures to train on")
        classes = tuple(classes or samples[0].classes)
        n = len(classes)
        counts = np.stack([np.bincount(s.labels.ravel(), minlength=256)[:n] for s in samples])
        if colours is None:
            colours = tuple(tuple(int(v) for v in c) for c in voc_palette(n))
        return cls(samples, classes, tuple(colours), background, source, counts)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.samples)

    def frequency(self, ids: Sequence[int]) -> np.ndarray:
        """Each class's share of the labelled pixels of pictures ``ids``."""
        total = self.counts[list(ids)].sum(0).astype(np.float64)
        return total / max(total.sum(), 1.0)


def open_training_data(path: Path | str, classes: Sequence[str] | None = None,
                       val: Path | str | None = None,
                       on_report: Callable[[object], None] | None = None) -> TrainingData:
    """The labelled pictures of dataset ``path`` (any format the reader knows), with those of
    dataset ``val`` as the validation pictures where one is given. ``on_report`` gets the
    pre-flight report (io/datasets/preflight.py) before the pictures are read."""
    dataset = open_dataset(path, classes)
    if on_report is not None:
        on_report(dataset.report)
    samples = list(dataset)
    if val is not None:
        held = open_dataset(val, classes or dataset.classes)
        if held.classes != dataset.classes:
            raise InputError(f"validation dataset {val} has classes {', '.join(held.classes)}, "
                             f"not those of {path} ({', '.join(dataset.classes)})")
        taken = {s.name for s in samples}
        samples += [replace(s, name=s.name if s.name not in taken else f"val/{s.name}",
                            split="val") for s in held]
    return TrainingData.from_samples(samples, dataset.classes, dataset.colours,
                                     dataset.background, str(path))


def batch_ids(train: Sequence[int], batch: int, seed: int, step: int,
              weights: np.ndarray | None = None) -> list[int]:
    """The pictures of ``step``: slice ``step % per_epoch`` of epoch ``step // per_epoch``'s
    permutation (a batch larger than the training set repeats pictures). With ``weights``
    (one per training picture), drawn instead with those odds, from (seed, step) alone."""
    if weights is not None:
        rng = np.random.default_rng([seed, step, 3])
        p = np.asarray(weights, np.float64) / np.sum(weights)
        picked = rng.choice(len(train), batch, replace=batch > np.count_nonzero(p), p=p)
        return [train[i] for i in picked]
    per_epoch = max(1, len(train) // batch)
    epoch, slot = divmod(step, per_epoch)
    order = np.random.default_rng([seed, epoch, 1]).permutation(len(train))
    picked = np.resize(order, per_epoch * batch)[slot * batch:(slot + 1) * batch]
    return [train[i] for i in picked]


def picture_weights(counts: np.ndarray, background: int, power: float) -> np.ndarray | None:
    """How often each picture (a row of ``counts``: its pixels per class) is drawn: by the
    rarest class it shows, ``(1 / share of pictures showing that class) ** power``, so a
    class seen in few pictures is seen in batches about as often as a common one (LVIS's
    repeat-factor sampling, for pictures). None at power 0: each picture once an epoch."""
    if not power:
        return None
    shows = counts > 0
    share = shows.mean(0)
    odds = np.where(shows, 1.0 / np.maximum(share, 1e-12) ** power, 0.0)
    odds[:, background] = np.where(shows[:, background], 1.0, 0.0)
    return np.maximum(odds.max(1), 1.0)


def steps_per_epoch(train_count: int, batch: int) -> int:
    return max(1, train_count // batch)


def make_batch(data: TrainingData, ids: Sequence[int], rng: np.random.Generator,
               settings: AugmentSettings, size: int, rarity: np.ndarray,
               mean: tuple[float, ...], std: tuple[float, ...]
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised Bx3xSxS crops and their BxSxS labels, augmented with ``rng``'s draws."""
    images, labels = [], []
    fill = tuple(255.0 * m for m in mean[::-1])  # BGR: what the network's zero padding means
    for i in ids:
        sample = data.samples[i]
        scale = size / min(sample.labels.shape)  # the scale the model sees it at
        img, lab = augment(sample.image, sample.labels, rng, settings, scale, rarity, fill)
        side = img.shape[0]
        images.append(to_model_input(torch.from_numpy(img), (side, side), mean, std,
                                     torch.float32))
        labels.append(torch.from_numpy(lab))
    return torch.cat(images), torch.stack(labels)
