"""Temporal smoothing maths on synthetic probabilities and pictures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from livesegment.core.frames import Frame, Inference
from livesegment.core.masks.smoothing import MaskOptions, TemporalSmoother, class_probabilities

H, W = 32, 48  # frame
h, w = 8, 12  # inference resolution (a quarter)


def _picture(edge_x: int = 24, invert: bool = False, size: tuple[int, int] = (H, W)
             ) -> np.ndarray:
    """Dark left of ``edge_x``, bright right of it."""
    bgr = np.full((*size, 3), 40, np.uint8)
    bgr[:, edge_x:] = 210
    return 255 - bgr if invert else bgr


def _logits(margin: np.ndarray, classes: int = 2) -> torch.Tensor:
    """Class 1 minus class 0 = ``margin`` (hxw); other classes far below."""
    logits = torch.full((1, classes, *margin.shape), -20.0)
    logits[0, 0] = 0.0
    logits[0, 1] = torch.from_numpy(margin.astype(np.float32))
    return logits


def _result(i: int, bgr: np.ndarray, margin: np.ndarray, classes: int = 2) -> Inference:
    return Inference(Frame(i, i / 25, bgr), _logits(margin, classes), torch.from_numpy(bgr))


def _labels(result: Inference) -> np.ndarray:
    probs = result.probabilities
    probs = class_probabilities(result.logits) if probs is None else probs
    return probs[0].argmax(0).numpy()


def _run(smoother: TemporalSmoother, results: list[Inference]) -> list[Inference]:
    out = []
    for r in results:
        out += smoother.push(r)
    return out + smoother.flush()


def _edge_margin(edge_cell: float, slope: float = 4.0) -> np.ndarray:
    """Confident class 1 right of ``edge_cell`` (in inference cells), class 0 left of it."""
    x = np.arange(w) + 0.5
    return np.tile((x - edge_cell) * slope, (h, 1))


@pytest.mark.parametrize("lookahead", [0, 3, 8])
@pytest.mark.parametrize("tie", [0.05, 0.2, 0.4])
def test_a_still_scene_stays_still(lookahead, tie):
    """Near-tie pixels whose margin flips sign every frame (model noise around a small
    lead) on a picture that does not change: unsmoothed they flip every frame, smoothed
    they settle on the leading class and stop flipping."""
    bgr = _picture()
    margin = _edge_margin(6.0)
    margin[2:6, 1:4] = tie  # a near-tie patch inside class 0
    frames = []
    for i in range(12):
        m = margin.copy()
        m[2:6, 1:4] *= 1 if i % 2 == 0 else -0.5
        frames.append(_result(i, bgr, m))
    raw = [_labels(r) for r in frames]
    assert sum((a != b).sum() for a, b in zip(raw, raw[1:])) == 11 * 12
    smoothed = [_labels(r) for r in _run(TemporalSmoother(0.9, lookahead), frames)]
    flips = [(a != b).sum() for a, b in zip(smoothed[2:], smoothed[3:])]
    assert sum(flips) == 0 and (smoothed[-1][2:6, 1:4] == 1).all()
    confident = np.abs(margin) > 1
    assert all((s[confident] == raw[0][confident]).all() for s in smoothed)


@pytest.mark.parametrize("lookahead", [0, 8])
@pytest.mark.parametrize("slope", [4.0, 0.3])  # confident, and unsure (near-ties all along)
def test_a_moving_edge_follows_within_a_frame(lookahead, slope):
    """The picture's edge moves 4 px (a cell) a frame and the model follows it: every
    smoothed frame has the new frame's labels, even where the model is unsure."""
    frames = [_result(i, _picture(4 * (2 + i)), _edge_margin(2 + i, slope))
              for i in range(5)]
    smoothed = _run(TemporalSmoother(0.9, lookahead), frames)
    for raw, out in zip(frames, smoothed):
        assert out.frame is raw.frame
        assert np.array_equal(_labels(out), _labels(raw))


@pytest.mark.parametrize("change, reset", [
    ("cut", True),  # a different picture altogether
    ("local", False),  # a small part of the picture changes: motion, not a cut
])
def test_a_scene_cut_starts_afresh(change, reset):
    bgr = _picture()
    margin = np.full((h, w), 0.3)  # weakly class 1 for the first scene
    smoother = TemporalSmoother(0.9)
    for i in range(6):
        smoother.push(_result(i, bgr, margin))
    after = bgr.copy()
    if change == "cut":
        after = _picture(invert=True)
    else:
        after[:8, :8] = 255
    nxt = _result(6, after, np.full((h, w), -0.2))  # now weakly class 0
    (out,) = smoother.push(nxt)
    assert smoother.resets == int(reset)
    fresh = torch.equal(out.probabilities, class_probabilities(nxt.logits))
    assert fresh == reset
    if reset:
        assert (_labels(out) == 0).all()


@pytest.mark.parametrize("first, second", [
    ((8, 12, 2), (16, 24, 2)),  # another inference size
    ((8, 12, 2), (8, 12, 21)),  # another model (other classes)
])
def test_a_new_size_or_model_starts_afresh(first, second):
    bgr = _picture()
    smoother = TemporalSmoother(0.9)
    for i in range(3):
        smoother.push(_result(i, bgr, np.full(first[:2], 0.3), first[2]))
    nxt = _result(3, bgr, np.full(second[:2], -0.3), second[2])
    (out,) = smoother.push(nxt)
    assert smoother.resets == 1
    assert torch.equal(out.probabilities, class_probabilities(nxt.logits))


@pytest.mark.parametrize("frames", [0, 1, 3, 9, 20])
@pytest.mark.parametrize("lookahead", [0, 1, 8])
def test_look_ahead_returns_every_frame_once_in_order(frames, lookahead):
    bgr = _picture()
    results = [_result(i, bgr, _edge_margin(6.0)) for i in range(frames)]
    smoother = TemporalSmoother(0.9, lookahead)
    out, held = [], []
    for r in results:
        ready = smoother.push(r)
        held.append(len(results[:r.frame.index + 1]) - len(out) - len(ready))
        out += ready
    out += smoother.flush()
    assert [o.frame for o in out] == [r.frame for r in results]
    assert max(held, default=0) <= lookahead
    assert all(o.probabilities.shape == (1, 2, h, w) for o in out)


def test_off_passes_results_through_untouched():
    r = _result(0, _picture(), _edge_margin(6.0))
    assert TemporalSmoother(0.0, 8).push(r) == [r]
    assert r.probabilities is None


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_strength_outside_0_1_is_refused(value):
    with pytest.raises(ValueError, match="outside 0..1"):
        MaskOptions(value)
    with pytest.raises(ValueError, match="outside 0..1"):
        TemporalSmoother(value)
