"""A model that keeps its base's classes: the base network, frozen and whole, beside a plain
fine-tune of the user's classes (``train --keep-classes``).

Wherever the fine-tune finds one of the user's classes, that class; everywhere else, the
base's own label. So the base's classes are exactly the base's outside the new classes'
pixels, and the new classes exactly the plain fine-tune's: one network trained to do both
came within 0.10 IoU of the plain fine-tune on the new class at best, and only by giving up
some of the base's (BENCHMARKS.md, "Keeping the base model's classes"). The price is a second
network pass per frame.

The scores are log-probability-like logits that every later step (argmax, smoothing,
refinement) reads as logits:

- a base class ``k``: ``log p_background + z_k - max_j z_j`` (the fine-tune's background share
  handed to the base's classes; the base's winner gets all of it, so its argmax is the base's
  own at any resolution: the shift is shared by all its classes);
- a new class: the fine-tune's log-probability of it;
- a base class the user labelled too (``person`` beside espnetv2-voc): the larger of the two.

The argmax is therefore the fine-tune's, with its background replaced by the base's label.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class KeptBase(nn.Module):
    """``base`` (its K classes) beside ``tuned`` (the user's classes, ``tuned_background``
    among them), giving logits over the result's classes: ``ids[c]`` is where the fine-tune's
    class ``c`` lands (its background on the base's, the others on K, K+1, ... or on a base
    class of the same name)."""

    def __init__(self, base: nn.Module, tuned: nn.Module, ids: Sequence[int],
                 tuned_background: int, num_classes: int) -> None:
        super().__init__()
        self.base, self.tuned = base, tuned
        self.tuned_background = tuned_background
        self.num_classes = num_classes
        # result class -> the fine-tune's classes that claim it (beyond the base's own)
        self.claims = {k: tuple(c for c, i in enumerate(ids)
                                if i == k and c != tuned_background)
                       for k in range(num_classes)}
        for p in self.base.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = self.base(x)
        tuned = self.tuned(x)
        if tuned.shape[2:] != base.shape[2:]:
            tuned = F.interpolate(tuned, base.shape[2:], mode="bilinear", align_corners=False)
        tuned = F.log_softmax(tuned.float(), 1)
        base = base.float()
        kept = base.shape[1]
        handed = base - base.amax(1, keepdim=True) + tuned[:, self.tuned_background:
                                                           self.tuned_background + 1]
        channels = []
        for k in range(self.num_classes):
            own = [handed[:, k]] if k < kept else []
            claims = own + [tuned[:, c] for c in self.claims[k]]
            score = claims[0]
            for other in claims[1:]:
                score = torch.maximum(score, other)
            channels.append(score)
        return torch.stack(channels, 1).to(x.dtype)

