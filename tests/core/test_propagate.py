"""An accepted mask carried through crafted videos: a square sliding over a textured field is
followed (both ways), a still scene keeps its mask, a vanished object loses confidence, and
bad arguments are named."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import livesegment
from livesegment.core.select.tracking import THRESHOLD, Appearance, track

HEIGHT, WIDTH, SIDE = 120, 160, 30
RED = (40, 40, 220)


def field() -> np.ndarray:
    """A textured green-grey background: blurred noise, so the flow has something to follow."""
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, (HEIGHT, WIDTH, 3)).astype(np.uint8)
    tex = cv2.GaussianBlur(noise, (0, 0), 1.5).astype(np.float32)
    return np.clip(tex * 0.5 + np.array([70, 110, 80]) * 0.5, 0, 255).astype(np.uint8)


def square_at(x: int, y: int) -> np.ndarray:
    out = np.zeros((HEIGHT, WIDTH), bool)
    out[y:y + SIDE, x:x + SIDE] = True
    return out


def video(positions: list[tuple[int, int] | None]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames with a textured red square at each position (None: no square) and its masks."""
    rng = np.random.default_rng(2)
    spots = rng.integers(-25, 25, (SIDE, SIDE, 3))
    square = np.clip(np.array(RED) + spots, 0, 255).astype(np.uint8)
    frames, masks = [], []
    for at in positions:
        img = field()
        m = np.zeros((HEIGHT, WIDTH), bool) if at is None else square_at(*at)
        if at is not None:
            img[at[1]:at[1] + SIDE, at[0]:at[0] + SIDE] = square
        frames.append(img)
        masks.append(m)
    return frames, masks


def by_hand_iou(a: np.ndarray, b: np.ndarray) -> float:
    return np.count_nonzero(a & b) / np.count_nonzero(a | b)


SLIDE = [(20 + 4 * i, 30 + 2 * i) for i in range(10)]


def test_a_sliding_square_is_followed_to_the_last_frame():
    frames, truth = video(SLIDE)
    masks = livesegment.propagate(frames, truth[0])
    assert len(masks) == len(frames)
    assert all(m.dtype == bool and m.shape == (HEIGHT, WIDTH) for m in masks)
    assert by_hand_iou(masks[-1], truth[-1]) >= 0.9
    assert np.array_equal(masks[0], truth[0])  # the accepted mask is handed back as it was


def test_a_mask_accepted_on_the_last_frame_is_carried_backwards():
    frames, truth = video(SLIDE)
    result = track(frames, truth[-1], start=len(frames) - 1)
    assert by_hand_iou(result.masks[0], truth[0]) >= 0.9
    assert result.confidence[-1] == 1.0 and result.needs_look == ()


def test_a_still_scene_keeps_its_mask():
    frames, truth = video([(50, 40)] * 5)
    result = track(frames, truth[0])
    for m in result.masks:
        assert by_hand_iou(m, truth[0]) >= 0.97
    assert min(result.confidence) >= 0.9


def test_confidence_drops_where_the_object_vanishes():
    frames, _ = video([(50, 40), (52, 41), (54, 42), None, None])
    result = track(frames, square_at(50, 40))
    assert min(result.confidence[:3]) >= THRESHOLD
    assert max(result.confidence[3:]) < THRESHOLD
    assert result.needs_look == (3, 4)


def test_an_empty_mask_stays_empty_and_sure():
    frames, _ = video(SLIDE[:3])
    result = track(frames, np.zeros((HEIGHT, WIDTH), bool))
    assert not any(m.any() for m in result.masks)
    assert result.needs_look == ()


def test_flow_alone_follows_a_step_but_drifts_where_the_recut_does_not():
    frames, truth = video(SLIDE)
    alone = track(frames, truth[0], refine=False).masks
    assert by_hand_iou(alone[1], truth[1]) >= 0.85
    recut = track(frames, truth[0]).masks
    assert by_hand_iou(alone[-1], truth[-1]) < by_hand_iou(recut[-1], truth[-1]) - 0.1


@pytest.mark.parametrize(("share", "expected"), [(1.0, 1.0), (0.0, 0.0)])
def test_appearance_scores_the_share_of_object_colours(share, expected):
    frames, truth = video([(50, 40)])
    looks = Appearance(frames[0], truth[0])
    mask = truth[0] if share else np.zeros_like(truth[0])
    assert looks.score(frames[0], mask) == pytest.approx(expected)


@pytest.mark.parametrize(("frames", "first", "options", "named"), [
    ([], np.zeros((HEIGHT, WIDTH), bool), {}, "frames"),
    ([np.zeros((HEIGHT, WIDTH, 3), np.uint8)], np.zeros((HEIGHT, WIDTH + 1), bool), {},
     "first_mask"),
    ([np.zeros((HEIGHT, WIDTH, 3), np.uint8), np.zeros((HEIGHT + 2, WIDTH, 3), np.uint8)],
     np.zeros((HEIGHT, WIDTH), bool), {}, "frames"),
    ([np.zeros((HEIGHT, WIDTH, 3), np.uint8)], np.zeros((HEIGHT, WIDTH), bool), {"start": 1},
     "start"),
    ([np.zeros((HEIGHT, WIDTH, 3), np.uint8)], np.zeros((HEIGHT, WIDTH), bool),
     {"threshold": 1.5}, "threshold"),
    ([np.zeros((HEIGHT, WIDTH), np.uint8)], np.zeros((HEIGHT, WIDTH), bool), {}, "frames"),
])
def test_bad_arguments_are_named(frames, first, options, named):
    if "threshold" not in options:
        with pytest.raises(ValueError, match=f"^{named}:"):
            livesegment.propagate(frames, first, **options)
    with pytest.raises(ValueError, match=f"^{named}:"):
        livesegment.track(frames, first, **options)
