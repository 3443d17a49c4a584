"""Edge refinement on synthetic pictures: boundaries move onto the picture's real edges."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from livesegment.core.masks.postprocess import labels_from_logits
from livesegment.core.masks.refine import (
    _apply_cpu, _apply_torch, guided_coefficients, refine_labels, soft_foreground,
)

H, W, SCALE = 64, 96, 8  # frame, and how much coarser the probabilities are


def _two_colour(edge_x: int, left=(40, 40, 40), right=(210, 210, 210)) -> np.ndarray:
    bgr = np.empty((H, W, 3), np.uint8)
    bgr[:, :edge_x] = left
    bgr[:, edge_x:] = right
    return bgr


def _blurry_probs(boundary_x: float, classes: tuple[int, int] = (0, 15),
                  total: int = 21) -> torch.Tensor:
    """Coarse probabilities: ``classes[1]`` rises smoothly across ``boundary_x`` (frame px),
    as an upsampling model's output does around a real edge."""
    x = (torch.arange(W // SCALE, dtype=torch.float32) + 0.5) * SCALE
    right = torch.sigmoid((x - boundary_x) / 10.0).expand(H // SCALE, -1)
    probs = torch.zeros(1, total, H // SCALE, W // SCALE)
    probs[0, classes[0]] = 1 - right
    probs[0, classes[1]] = right
    return probs


def _boundary_column(labels: torch.Tensor, cls: int) -> float:
    """Mean width of the ``cls`` region on the left: the boundary's column."""
    return float((labels == cls).sum(1).float().mean())


@pytest.mark.parametrize("edge_x, blurry_x, left, right", [
    (42, 48, (40, 40, 40), (210, 210, 210)),  # edge left of the model's guess
    (55, 48, (40, 40, 40), (210, 210, 210)),  # edge right of it
    (44, 52, (200, 200, 20), (20, 200, 200)),  # same brightness; only the colour differs
    (53, 45, (30, 30, 200), (30, 160, 30)),  # red on green, close in grey
])
def test_refinement_moves_the_boundary_onto_the_picture_edge(edge_x, blurry_x, left, right):
    bgr = _two_colour(edge_x, left, right)
    probs = _blurry_probs(blurry_x)
    plain = labels_from_logits(probs, (H, W))
    refined = refine_labels(probs, torch.from_numpy(bgr))
    assert set(refined.unique().tolist()) == {0, 15}
    assert abs(_boundary_column(plain, 0) - edge_x) > 4  # the model's guess is off
    assert abs(_boundary_column(refined, 0) - edge_x) <= 1  # refined: on the edge


def test_a_flat_picture_keeps_the_models_boundary():
    """No edge to snap to: refinement must not invent one."""
    bgr = np.full((H, W, 3), 120, np.uint8)
    probs = _blurry_probs(50)
    plain = labels_from_logits(probs, (H, W))
    refined = refine_labels(probs, torch.from_numpy(bgr))
    assert abs(_boundary_column(refined, 0) - _boundary_column(plain, 0)) <= 1


@pytest.mark.parametrize("cls", [0, 7, 15])
def test_one_class_everywhere_gives_that_class(cls):
    probs = torch.zeros(1, 21, H // SCALE, W // SCALE)
    probs[0, cls] = 1
    labels = refine_labels(probs, torch.from_numpy(_two_colour(40)))
    assert labels.shape == (H, W) and labels.dtype == torch.uint8 and (labels == cls).all()


def test_three_classes_each_keep_their_region_and_absent_ones_never_appear():
    probs = torch.zeros(1, 21, H // SCALE, W // SCALE)
    probs[0, 0, :, :4] = 1
    probs[0, 8, :, 4:8] = 1
    probs[0, 15, :, 8:] = 1
    bgr = np.zeros((H, W, 3), np.uint8)
    bgr[:, 32:64], bgr[:, 64:] = (0, 0, 200), (0, 200, 0)
    labels = refine_labels(probs, torch.from_numpy(bgr))
    assert set(labels.unique().tolist()) == {0, 8, 15}
    assert (labels[:, :30] == 0).all() and (labels[:, 34:62] == 8).all()
    assert (labels[:, 66:] == 15).all()


def test_soft_foreground_is_a_matte_on_the_edge():
    bgr = _two_colour(40)
    matte = soft_foreground(_blurry_probs(48), torch.from_numpy(bgr), background=0)
    assert matte.dtype == torch.uint8 and matte.shape == (H, W)
    steps = matte[H // 2].int().diff()
    assert int(steps.argmax()) + 1 == 40 and int(steps.max()) > 60  # it steps at the edge
    assert (matte[:, :30] < 40).all() and (matte[:, 75:] > 215).all()


def test_gpu_path_matches_the_cpu_path():
    """The torch application (what CUDA runs) equals the OpenCV one, run here on the CPU."""
    bgr = torch.from_numpy(_two_colour(37, (10, 80, 200), (200, 90, 20)))
    target = _blurry_probs(48)[:, 15:16]
    a, b = guided_coefficients(target, bgr, 1, 1e-2)
    assert torch.allclose(_apply_cpu(a, b, bgr.numpy()), _apply_torch(a, b, bgr), atol=1e-4)


def test_exact_ties_go_to_the_lowest_class_as_argmax_does():
    """Outside the object every other class ties (a model that only scores one class): the
    tied classes must not win anywhere, only the lowest of them, as the exact path gives."""
    logits = torch.zeros(1, 21, H // SCALE, W // SCALE)
    logits[0, 15, :, 6:] = 4.0
    probs = torch.softmax(logits, 1)
    labels = refine_labels(probs, torch.from_numpy(_two_colour(48)))
    assert set(labels.unique().tolist()) == {0, 15}
    assert (labels[:, :40] == 0).all() and (labels[:, 56:] == 15).all()
