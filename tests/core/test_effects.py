"""Effects, pixel by pixel: the person untouched, the background blurred/replaced/transparent,
edges grown, shrunk, feathered and cut where asked, no halo, any model and class selection."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from livesegment.core.compose.effects import (
    AlphaEffect, BlurEffect, Chain, Matte, OverlayEffect, ReplaceEffect, StillBackdrop,
    composite, cover, for_model, is_transparent, parse_colour, render, solid,
)
from livesegment.core.frames import Frame
from livesegment.core.compose.overlay import OverlayStyle, blend_numpy
from livesegment.core.models.zoo import get_spec
from livesegment.errors import InputError
from tests.conftest import PERSON, fake_segmenter

H, W = 60, 80
EDGE = 40  # columns < EDGE are the person in the split scene


def noisy(seed: int = 0, h: int = H, w: int = W) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def split_labels(person: int = PERSON, h: int = H, w: int = W) -> np.ndarray:
    labels = np.zeros((h, w), np.uint8)
    labels[:, :EDGE] = person
    return labels


VOC = Matte.for_classes(21, 0)
BACKDROP = noisy(7, 30, 40)


def _effects():
    return {
        "blur": BlurEffect(VOC, 8.0),
        "replace": ReplaceEffect(VOC, StillBackdrop(BACKDROP)),
        "color": ReplaceEffect(VOC, solid(parse_colour("#00b140"))),
        "alpha": AlphaEffect(VOC),
    }


@pytest.mark.parametrize("name", ["blur", "replace", "color", "alpha"])
def test_person_pixels_are_unchanged(name):
    frame, labels = noisy(), split_labels()
    out = _effects()[name].apply(frame, labels)
    assert np.array_equal(out[:, :EDGE, :3], frame[:, :EDGE])


@pytest.mark.parametrize("name, expected", [
    ("replace", lambda f: cover(BACKDROP, (H, W))[:, EDGE:]),
    ("color", lambda f: np.broadcast_to(np.array([0x40, 0xb1, 0x00], np.uint8),
                                        (H, W - EDGE, 3))),
])
def test_background_is_replaced(name, expected):
    frame = noisy()
    out = _effects()[name].apply(frame, split_labels())
    assert np.array_equal(out[:, EDGE:], expected(frame))


def test_alpha_is_transparent_outside_opaque_inside_colours_kept():
    frame = noisy()
    out = AlphaEffect(VOC).apply(frame, split_labels())
    assert out.shape == (H, W, 4)
    assert (out[:, :EDGE, 3] == 255).all() and (out[:, EDGE:, 3] == 0).all()
    assert np.array_equal(out[..., :3], frame)


@pytest.mark.parametrize("strength", [4.0, 10.0, 30.0])
def test_blur_smooths_the_background_more_with_strength(strength):
    frame = noisy(3, 120, 160)
    labels = np.zeros((120, 160), np.uint8)
    out = BlurEffect(VOC, strength).apply(frame, labels)
    # Noise of std ~74 per pixel; a Gaussian of sigma s leaves about 74 / (2 sqrt(pi) s).
    left = out.astype(float).std(axis=(0, 1)).mean()
    assert left < 74 / (2 * np.sqrt(np.pi) * strength) * 2.5 + 1
    assert abs(out.astype(float).mean() - frame.astype(float).mean()) < 3


def test_stronger_blur_is_smoother():
    frame, labels = noisy(3, 120, 160), np.zeros((120, 160), np.uint8)
    spreads = [BlurEffect(VOC, s).apply(frame, labels).astype(float).std() for s in (3, 8, 20)]
    assert spreads[0] > spreads[1] > spreads[2]


def test_blur_has_no_halo_of_person_colour():
    """A red person against a blue wall: the blurred wall right next to the person stays blue.
    A plain Gaussian of the whole frame (the naive way) would smear red into it."""
    import cv2

    frame = np.zeros((H, W, 3), np.uint8)
    frame[:, :EDGE] = (0, 0, 255)
    frame[:, EDGE:] = (255, 0, 0)
    labels = split_labels()
    for matte in (VOC, Matte.for_classes(21, 0, feather=5)):
        out = BlurEffect(matte, 12.0).apply(frame, labels)
        wall = out[:, EDGE + matte.feather:]
        assert wall[..., 2].max() <= 1 and wall[..., 0].min() >= 254
    naive = cv2.GaussianBlur(frame, (0, 0), 12.0)
    assert naive[:, EDGE:EDGE + 5, 2].min() > 60  # the test would catch a naive blur


@pytest.mark.parametrize("feather", [3, 8, 15])
def test_feather_is_a_ramp_of_the_asked_width(feather):
    alpha = Matte.for_classes(21, 0, feather=feather).alpha(split_labels())
    row = alpha[H // 2].astype(int)
    partial = np.flatnonzero((row > 0) & (row < 255))
    assert len(partial) == feather - 1
    assert partial.min() >= EDGE - feather // 2 - 1 and partial.max() <= EDGE + feather // 2
    assert (np.diff(row) <= 0).all()  # falls monotonically from person to background


@pytest.mark.parametrize("grow", [-6, -2, 0, 3, 7])
def test_grow_and_shrink_move_the_edge(grow):
    alpha = Matte.for_classes(21, 0, grow=grow).alpha(split_labels())
    kept = np.flatnonzero(alpha[H // 2] == 255)
    assert kept.max() == EDGE - 1 + grow and set(np.unique(alpha)) <= {0, 255}


@pytest.mark.parametrize("threshold, partial_max", [(0.0, 9), (0.5, 5), (0.9, 1)])
def test_threshold_trims_the_outer_ramp(threshold, partial_max):
    alpha = Matte.for_classes(21, 0, feather=10, threshold=threshold).alpha(split_labels())
    row = alpha[H // 2].astype(int)
    partial = np.flatnonzero((row > 0) & (row < 255))
    assert len(partial) <= partial_max
    assert row[:EDGE - 6].min() == 255 and row[EDGE + 6:].max() == 0


@pytest.mark.parametrize("bad", [dict(feather=-1), dict(threshold=1.0),
                                 dict(threshold=-0.1)])
def test_bad_edge_settings_are_input_errors(bad):
    with pytest.raises(InputError):
        Matte.for_classes(21, 0, **bad)


@pytest.mark.parametrize("selected, kept_ids", [
    (None, {7, 15}),     # every class but the background
    ({15}, {15}),        # only person: a car (7) counts as background
    ({7}, {7}),
])
def test_background_is_every_class_not_selected(selected, kept_ids):
    labels = np.zeros((H, W), np.uint8)
    labels[:, :20], labels[:, 20:40] = 15, 7
    frame = noisy()
    out = ReplaceEffect(Matte.for_classes(21, 0, selected), solid((1, 2, 3))).apply(frame,
                                                                                  labels)
    for cid in (0, 7, 15):
        region = labels == cid
        kept = np.array_equal(out[region], frame[region])
        assert kept == (cid in kept_ids), cid


def test_any_model_background_id_is_respected():
    """Cityscapes-like: background is class 19, class 0 (road) is foreground by default."""
    labels = np.full((H, W), 19, np.uint8)
    labels[:, :10] = 0
    alpha = Matte.for_classes(20, 19).alpha(labels)
    assert (alpha[:, :10] == 255).all() and (alpha[:, 10:] == 0).all()


@pytest.mark.parametrize("opacity, selected, mask_only", [
    (0.5, None, False), (0.3, frozenset({15}), False), (1.0, None, True), (0.0, None, False),
])
def test_overlay_effect_is_bit_exact_with_the_overlay_blend(opacity, selected, mask_only):
    spec = get_spec("espnetv2-voc")
    style = OverlayStyle(spec.palette, spec.background, opacity, selected, mask_only)
    frame = noisy()
    labels = np.random.default_rng(1).integers(0, 21, (H, W), dtype=np.uint8)
    assert np.array_equal(OverlayEffect(style).apply(frame, labels),
                          blend_numpy(frame, labels, style))
    assert np.array_equal(render(style, torch.from_numpy(frame), torch.from_numpy(labels)),
                          blend_numpy(frame, labels, style))


def test_blur_then_overlay_chain():
    spec = get_spec("espnetv2-voc")
    style = OverlayStyle(spec.palette, spec.background, 0.5)
    frame, labels = noisy(), split_labels()
    out = Chain((BlurEffect(VOC, 6.0), OverlayEffect(style))).apply(frame, labels)
    assert np.array_equal(out[:, :EDGE], blend_numpy(frame, labels, style)[:, :EDGE])
    assert out[:, EDGE + 5:].astype(float).std() < frame[:, EDGE:].astype(float).std() / 2


def test_alpha_must_end_a_chain():
    assert is_transparent(Chain((BlurEffect(VOC), AlphaEffect(VOC))))
    with pytest.raises(InputError, match="last"):
        Chain((AlphaEffect(VOC), BlurEffect(VOC)))


@pytest.mark.parametrize("alpha_value", [0, 1, 128, 254, 255])
def test_composite_formula(alpha_value):
    front, back = noisy(1), noisy(2)
    alpha = np.full((H, W), alpha_value, np.uint8)
    out = composite(front, back, alpha).astype(int)
    a = alpha_value
    want = (front.astype(int) * a + back.astype(int) * (255 - a) + 127) // 255
    assert np.abs(out - want).max() <= (0 if a in (0, 255) else 1)  # ends bit-exact
    if a in (0, 255):
        hard = composite(front, back, alpha, soft=False)
        assert np.array_equal(hard, want)


@pytest.mark.parametrize("picture_hw, size, crop", [
    ((100, 200), (100, 100), (slice(0, 100), slice(50, 150))),  # wider: centre columns
    ((200, 100), (100, 100), (slice(50, 150), slice(0, 100))),  # taller: centre rows
])
def test_cover_crops_the_centre_without_distortion(picture_hw, size, crop):
    picture = np.random.default_rng(0).integers(0, 256, (*picture_hw, 3), dtype=np.uint8)
    scale = max(size[0] / picture_hw[0], size[1] / picture_hw[1])
    out = cover(picture, size)
    assert out.shape == (*size, 3)
    if scale == 1:
        assert np.array_equal(out, picture[crop])


def test_cover_enlarges_a_small_picture_to_fill():
    picture = np.zeros((10, 10, 3), np.uint8)
    picture[:, 5:] = 255
    out = cover(picture, (40, 80))  # 8x: 80x80, rows 20..60 kept
    assert out.shape == (40, 80, 3)
    assert out[:, :36].max() == 0 and out[:, 44:].min() == 255  # a bilinear step of 8 px


@pytest.mark.parametrize("text, bgr", [("#00ff00", (0, 255, 0)), ("00B140", (0x40, 0xb1, 0)),
                                       ("#123456", (0x56, 0x34, 0x12))])
def test_parse_colour(text, bgr):
    assert parse_colour(text) == bgr


@pytest.mark.parametrize("text", ["green", "#12345", "#1234567", "#gg0000", ""])
def test_bad_colours_are_input_errors(text):
    with pytest.raises(InputError, match="#RRGGBB"):
        parse_colour(text)


def test_model_swap_resets_the_selection_to_the_new_models_classes():
    effect = BlurEffect(Matte.for_classes(21, 0, {15}, feather=4))
    portrait = for_model(effect, 2, 0, np.zeros((2, 3), np.uint8))
    assert portrait.matte.keep == frozenset({1}) and portrait.matte.feather == 4
    assert for_model(effect, 21, 0, np.zeros((21, 3), np.uint8)) is effect


def test_segmenter_composes_any_effect_and_alpha_gives_bgra():
    seg = fake_segmenter()
    bgr = np.full((48, 64, 3), 90, np.uint8)
    bgr[10:30, 10:30] = (0, 0, 255)  # red: the fake model's person
    frame = Frame(0, 0.0, bgr)
    composed = seg.process(frame, AlphaEffect(Matte.for_classes(21, 0)))
    person = composed.labels == PERSON
    assert person.any() and composed.image.shape == (48, 64, 4)
    assert (composed.image[person, 3] == 255).all() and (composed.image[~person, 3] == 0).all()
    replaced = seg.process(frame, ReplaceEffect(Matte.for_classes(21, 0), solid((0, 255, 0))))
    assert np.array_equal(replaced.image[person], bgr[person])
    assert (replaced.image[~person] == (0, 255, 0)).all()
