"""Sizes bounded from both sides: a thin strip, a huge claim or an extreme edge width never
turns into gigabytes; pictures within the budget keep their old results."""

from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest

from livesegment.core.budget import (MAX_FRAME_PIXELS, MAX_MODEL_PIXELS, MAX_MODEL_SIDE,
                                     MAX_PICTURE_PIXELS, MAX_SIZE, check_model_size,
                                     check_picture_size)
from livesegment.core.compose.effects import Matte, ReplaceEffect, StillBackdrop, cover
from livesegment.core.masks.preprocess import inference_size
from livesegment.errors import InputError


@pytest.mark.parametrize(("h", "w", "short", "mult", "expected"), [
    (1, 200_000, 256, 16, (16, MAX_MODEL_SIDE)),   # was 256 x 51.2 million: 39 GB of input
    (200_000, 1, 256, 32, (MAX_MODEL_SIDE, 32)),
    (3, 30_000, 512, 32, (32, MAX_MODEL_SIDE)),
    (1080, 1920, MAX_SIZE, 8, (1080, 1928)),       # the largest size on 16:9: shrunk to 2 MiP
    (2000, 2000, MAX_SIZE, 8, (1448, 1448)),
    (720, 1280, 256, 32, (256, 448)),              # ordinary frames: as before
])
def test_the_model_input_is_bounded_by_both_sides(h, w, short, mult, expected):
    out = inference_size(h, w, short, mult)
    assert out == expected
    assert out[0] * out[1] <= MAX_MODEL_PIXELS and max(out) <= MAX_MODEL_SIDE
    assert all(side % mult == 0 for side in out)


def test_an_empty_picture_is_refused_not_divided_by():
    with pytest.raises(InputError, match="empty picture"):
        inference_size(0, 640, 256, 32)


@pytest.mark.parametrize(("width", "height", "limit", "message"), [
    (100_000, 100_000, MAX_PICTURE_PIXELS, r"100000x100000 pixels \(10000.0 MP\); the largest "
                                           r"accepted is 50.0 MP"),
    (7_000, 7_000, MAX_FRAME_PIXELS, "the largest accepted for each frame of a video is 8.8 MP"),
    (0, 480, MAX_PICTURE_PIXELS, "states a size of 0x480 pixels, not a picture"),
])
def test_stated_sizes_over_the_budget_are_refused(width, height, limit, message):
    with pytest.raises(InputError, match=message):
        check_picture_size(width, height, "image x.png", limit)


def test_sizes_within_the_budget_pass():
    check_picture_size(8000, 6000, "image photo.jpg")  # a 48 MP photo
    check_picture_size(4096, 2160, "video dci.mp4", MAX_FRAME_PIXELS)
    check_model_size(MAX_SIZE)
    with pytest.raises(InputError, match=f"at most {MAX_SIZE}"):
        check_model_size(MAX_SIZE + 1)


def _peak_bytes(fn) -> tuple[object, int]:
    """What ``fn`` returns and the largest memory numpy (and OpenCV's arrays) held meanwhile."""
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("strip_hw", [(1, 200_000), (200_000, 1), (2, 30_000)])
def test_a_thin_strip_covers_a_frame_without_scaling_it_whole(strip_hw):
    ramp = np.linspace(0, 255, max(strip_hw)).astype(np.uint8)  # along the long side
    strip = np.zeros((*strip_hw, 3), np.uint8)
    strip[..., 2] = ramp.reshape(-1, 1) if strip_hw[0] > strip_hw[1] else ramp
    out, peak = _peak_bytes(lambda: cover(strip, (720, 1280)))
    assert out.shape == (720, 1280, 3)
    assert abs(int(np.median(out[..., 2])) - 127) <= 2  # the strip's centre fills the frame
    # The strip itself plus a few frames; scaled whole it was 100+ GB.
    assert peak < strip.nbytes + 8 * out.nbytes


def test_cover_still_fills_and_centres_an_ordinary_picture():
    picture = np.zeros((10, 20, 3), np.uint8)
    picture[:, 10:] = 200  # right half bright
    out = cover(picture, (40, 40))  # 4x: 40x80, the centre 40 columns kept
    assert out.shape == (40, 40, 3)
    assert out[:, :18].max() == 0 and out[:, 22:].min() == 200  # the step lands mid-frame
    colour = cover(np.array([[[1, 2, 3]]], np.uint8), (5, 7))  # a plain colour
    assert colour.shape == (5, 7, 3) and (colour == (1, 2, 3)).all()


def test_a_strip_background_replaces_a_frame_within_memory():
    frame = np.full((360, 640, 3), 50, np.uint8)
    labels = np.zeros((360, 640), np.uint8)
    labels[100:200, 200:400] = 15  # a "person" kept
    strip = np.full((1, 100_000, 3), 220, np.uint8)
    effect = ReplaceEffect(Matte.for_classes(21, 0), StillBackdrop(strip))
    out, peak = _peak_bytes(lambda: effect.apply(frame, labels))
    assert (out[labels == 15] == 50).all() and (out[labels == 0] == 220).all()
    assert peak < 12 * frame.nbytes


def split_mask(h: int = 60, w: int = 80) -> np.ndarray:
    labels = np.zeros((h, w), np.uint8)
    labels[:, : w // 2] = 15
    return labels


@pytest.mark.parametrize(("grow", "kept"), [
    (10**9, 60 * 80),   # past both sides: every pixel (a kernel of 10^18 bytes before)
    (-10**9, 0),        # shrunk past both sides: none
    (30, 60 * 70),      # wide: by distance, the edge 30 px further out
    (-30, 60 * 10),
])
def test_edge_moves_far_beyond_the_picture_are_bounded(grow, kept):
    mask = Matte.for_classes(21, 0, grow=grow).hard(split_mask())
    assert int(np.count_nonzero(mask)) == kept


def test_a_wide_edge_move_matches_the_elliptic_kernel_within_corner_pixels():
    mask = np.zeros((120, 160), np.uint8)
    mask[40:80, 60:100] = 255
    labels = (mask // 255 * 15).astype(np.uint8)
    r = 20
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    exact = cv2.dilate(mask, kernel)
    moved = Matte.for_classes(21, 0, grow=r).hard(labels)
    assert np.count_nonzero(moved != exact) < 0.01 * np.count_nonzero(exact)


def test_a_feather_far_beyond_the_picture_is_capped_not_a_crash():
    alpha = Matte.for_classes(21, 0, feather=10**9).alpha(split_mask())  # bad_alloc before
    assert alpha.shape == (60, 80) and alpha.dtype == np.uint8
    assert alpha[:, 0].mean() > alpha[:, -1].mean()  # still more person on the left


def test_refining_many_classes_holds_one_full_size_plane_at_a_time():
    """12 classes on a 1000x1000 frame: 32 MB traced (one plane and its temporaries), where
    every class's plane at once was 88 MB (a 48 MP street scene peaked at 4.4 GB)."""
    import torch

    from livesegment.core.masks.refine import (_apply_torch, guided_coefficients, plane_argmax,
                                               refine_labels, winning_classes)

    torch.manual_seed(0)
    probs = torch.softmax(torch.randn(1, 12, 40, 40) * 4, 1)
    pixels = (torch.rand(1000, 1000, 3) * 255).to(torch.uint8)
    ids = winning_classes(probs)
    assert len(ids) == 12
    labels, peak = _peak_bytes(lambda: refine_labels(probs, pixels))
    assert peak < 12 * 4 * pixels.shape[0] * pixels.shape[1]  # less than the 12 planes alone
    a, b = guided_coefficients(probs[:, ids], pixels, 1, 1e-2)  # all planes at once, as before
    assert torch.equal(labels, plane_argmax(_apply_torch(a, b, pixels), ids.tolist()))
