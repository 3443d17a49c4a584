"""The training objective: class-weighted cross-entropy plus soft Dice.

Cross-entropy alone lets a defect covering 0.2 % of a picture be ignored at almost no cost;
weights from the class frequencies and a Dice term (which scores each class by overlap, whatever
its size) make the small classes count. Pixels labelled ``IGNORE`` take part in neither.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import torch
import torch.nn.functional as F

from livesegment.io.datasets.records import IGNORE


def class_weights(pixel_counts: np.ndarray, power: float = 0.5, cap: float = 10.0
                  ) -> np.ndarray:
    """Median-frequency balancing softened by ``power`` and capped: ``(median / f_c) ** power``.

    Classes with no pixels get weight 0 (nothing to learn from them)."""
    counts = np.asarray(pixel_counts, np.float64)
    freq = counts / max(counts.sum(), 1.0)
    seen = freq > 0
    weights = np.zeros_like(freq)
    if seen.any():
        median = np.median(freq[seen])
        weights[seen] = np.minimum((median / freq[seen]) ** power, cap)
    return weights.astype(np.float32)


def dice_loss(logits: torch.Tensor, target: torch.Tensor, skip: int | Collection[int] = (),
              smooth: float = 1.0) -> torch.Tensor:
    """1 - mean soft Dice over the classes but ``skip`` (left to cross-entropy: the
    background, or every class a run keeps from its base); 0 when no class is left."""
    skipped = {skip} if isinstance(skip, int) else set(skip)
    n_classes = logits.shape[1]
    valid = (target != IGNORE).unsqueeze(1)
    probs = logits.softmax(1) * valid
    onehot = F.one_hot(target.clamp(max=n_classes - 1).long(), n_classes).permute(0, 3, 1, 2)
    onehot = onehot * valid
    dims = (0, 2, 3)
    inter = (probs * onehot).sum(dims)
    total = probs.sum(dims) + onehot.sum(dims)
    dice = (2 * inter + smooth) / (total + smooth)
    keep = [c for c in range(n_classes) if c not in skipped]
    return 1.0 - dice[keep].mean() if keep else dice.new_zeros(())


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor,
                      dice_weight: float, dice_skip: int | Collection[int]) -> torch.Tensor:
    """Weighted cross-entropy + ``dice_weight`` x Dice, on logits upsampled to the labels."""
    if logits.shape[2:] != target.shape[1:]:
        logits = F.interpolate(logits, target.shape[1:], mode="bilinear", align_corners=False)
    ce = F.cross_entropy(logits, target.long(), weight=weights, ignore_index=IGNORE)
    if dice_weight == 0:
        return ce
    return ce + dice_weight * dice_loss(logits, target, skip=dice_skip)
