"""People found by two models at once: ESPNetv2's 21 classes, with the person class fused
from a MediaPipe selfie model where the scene is a close-up.

Measured against human labels (BENCHMARKS.md, "People, as well as the package can"): the
selfie models find people in photos and video calls far better than ESPNetv2 (IoU 0.92 against
0.83 on street photos) at a ninth of its cost, but find next to none of the people in wide
scenes and crowds, where ESPNetv2 is the better one. So the selfie model's say grows with the
size of the largest person ESPNetv2 sees (the scene's scale, read off the model almost for
free), and within that each model counts by its own confidence at the pixel. A wide scene
never runs the selfie model at all, so it costs nothing there. Every other class keeps
ESPNetv2's answer: their probabilities are scaled to make room for the fused person's.

The result is returned as log-probabilities, which every later step (argmax, smoothing,
refinement) treats as logits: softmax(log p) = p.
"""

from __future__ import annotations

import cv2
import torch
import torch.nn.functional as F
from torch import nn

# Share of the frame covered by the largest person ESPNetv2 sees, at which the selfie model
# starts to count, and at which it has its full say. Measured (benchmarks/person_accuracy.py):
# street photos 0.13-0.39 (5th percentile 0.19), a video call 0.21; wide scenes below: the
# shared 720p footage 0.01-0.02, people pasted small outdoors 0-0.02, a classroom 0.03, the
# one-by-one clip up to 0.11, a mosaic of ten photos 0.03-0.13. The selfie models found
# 0.00-0.07 IoU of the people in those wide scenes. Of the settings tried (from 0.08 or 0.12,
# full at 0.16 or 0.20, say 0.6-1.0) these kept ESPNetv2's IoU on the mosaic (0.672) with
# 0.921 on the photos; from 0.08 gave 0.924 there but 0.655 on the mosaic.
CLOSE_UP_FROM = 0.12
CLOSE_UP_FULL = 0.16
SELFIE_WEIGHT = 0.9  # the selfie model's say in a full close-up (ESPNetv2 keeps the rest)
CONFIDENCE_FLOOR = 0.05  # a model at p = 0.5 still counts a little: no division by zero


class FusedPerson(nn.Module):
    """``main`` (C-class logits, ImageNet-normalised input) with its ``person_class`` fused
    from ``person`` (2-class logits [0, z] on RGB in 0..1 at ``person_hw``)."""

    def __init__(self, main: nn.Module, person: nn.Module, person_hw: tuple[int, int],
                 mean: tuple[float, ...], std: tuple[float, ...], person_class: int) -> None:
        super().__init__()
        self.main = main
        self.person = person
        self.person_hw = tuple(person_hw)
        self.person_class = person_class
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.main(x)
        # The scene is judged on every other logit: a quarter of the softmax's cost.
        coarse = torch.softmax(logits[:, :, ::2, ::2].float(), 1)[:, self.person_class]
        weight = scene_weight(coarse)
        if weight == 0.0:  # a wide scene: the selfie model would not be heard
            return logits
        probs = torch.softmax(logits.float(), 1)
        rgb = F.interpolate(x.float() * self.std + self.mean, size=self.person_hw,
                            mode="bilinear", align_corners=False, antialias=True)
        z = self.person(rgb.clamp_(0.0, 1.0).to(x.dtype)
                        .contiguous(memory_format=torch.channels_last))[:, 1:2].float()
        z = F.interpolate(z, size=probs.shape[-2:], mode="bilinear", align_corners=False)
        return fuse_person(probs, torch.sigmoid(z)[:, 0], self.person_class,
                           weight).to(logits.dtype)


def scene_weight(person: torch.Tensor) -> float:
    """The selfie model's say (0..SELFIE_WEIGHT) from how large the largest person is
    (``person``: 1xhxw probabilities): none in a wide scene, all of it in a close-up."""
    ramp = (largest_person(person) - CLOSE_UP_FROM) / (CLOSE_UP_FULL - CLOSE_UP_FROM)
    return SELFIE_WEIGHT * min(1.0, max(0.0, ramp))


def largest_person(person: torch.Tensor) -> float:
    """The share of the frame covered by the largest connected region where ``person``
    (1xhxw) exceeds 0.5. Not the total person share: ten small people in a crowd add up to
    a close-up's share, and the selfie models find none of them (BENCHMARKS.md)."""
    mask = (person[0] > 0.5).to(torch.uint8).cpu().numpy()
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return 0.0
    return float(stats[1:, cv2.CC_STAT_AREA].max()) / mask.size


def fuse_person(probs: torch.Tensor, selfie: torch.Tensor, person_class: int,
                weight: float) -> torch.Tensor:
    """Log-probabilities (BxCxhxw) with the person class a confidence-weighted mix of both
    models' (``selfie`` Bxhxw), the other classes scaled to fill the rest as before."""
    own = probs[:, person_class]
    own_conf = (own - 0.5).abs_().mul_(2.0).add_(CONFIDENCE_FLOOR).mul_(1.0 - weight)
    selfie_conf = (selfie - 0.5).abs().mul_(2.0).add_(CONFIDENCE_FLOOR).mul_(weight)
    person = (own * own_conf + selfie * selfie_conf) / (own_conf + selfie_conf)
    scale = (1.0 - person) / (1.0 - own).clamp_(min=1e-6)
    fused = probs * scale.unsqueeze(1)
    fused[:, person_class] = person
    return fused.clamp_(min=1e-30).log_()
