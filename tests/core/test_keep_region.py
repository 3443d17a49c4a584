"""A region kept besides the classes (a clicked object the model has no class for), pixel by
pixel: it joins the matte before the edge is drawn, every matte effect keeps it in front, an
overlay ignores it, and a region of the wrong size is refused."""

from __future__ import annotations

import numpy as np
import pytest

from livesegment.core.compose.effects import (
    AlphaEffect, BlurEffect, Chain, Matte, OverlayEffect, ReplaceEffect, keep_region, solid,
)
from livesegment.core.compose.overlay import OverlayStyle
from livesegment.core.models.zoo import get_spec

H, W = 60, 80
PERSON = 15
VOC = Matte.for_classes(21, 0)


def noisy(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def scene() -> tuple[np.ndarray, np.ndarray]:
    """Labels with the person in columns 0..19, and a region (rows 20..39, columns 50..69)
    the model calls background."""
    labels = np.zeros((H, W), np.uint8)
    labels[:, :20] = PERSON
    region = np.zeros((H, W), np.uint8)
    region[20:40, 50:70] = 255
    return labels, region


def grid(text: str) -> np.ndarray:
    """Rows of digits as an array: the tables below are drawn, not described."""
    return np.array([[int(c) for c in row] for row in text.split()], np.uint8)


@pytest.mark.parametrize("labels, region, grow, expected", [
    # no region: the classes alone
    ("1100 1100 0000", None, 0, "1100 1100 0000"),
    # a region beside the class joins it
    ("1100 0000 0000", "0000 0001 0001", 0, "1100 0001 0001"),
    # a region over the class changes nothing there
    ("1100 1100 0000", "1000 0000 0000", 0, "1100 1100 0000"),
    # the edge moves around both: grown by one (elliptic 3x3 = a cross at radius 1)
    ("00000 00000 00000 00000 00000", "00000 00000 00100 00000 00000", 1,
     "00000 00100 01110 00100 00000"),
    # a class not kept stays out even with a region elsewhere
    ("2200 2200 0000", "0000 0000 0011", 0, "0000 0000 0011"),
])
def test_the_region_joins_the_kept_classes(labels, region, grow, expected):
    matte = Matte(frozenset({1}), 3, grow=grow,
                  region=None if region is None else grid(region) * 255)
    assert np.array_equal(matte.hard(grid(labels)), grid(expected) * 255)


@pytest.mark.parametrize("effect", [
    BlurEffect(VOC, 8.0), ReplaceEffect(VOC, solid((0, 177, 64))), AlphaEffect(VOC),
    Chain((BlurEffect(VOC, 8.0), OverlayEffect(OverlayStyle(get_spec("espnetv2-voc").palette,
                                                            0, 0.5, frozenset({3}))))),
], ids=["blur", "colour", "alpha", "chain"])
def test_a_kept_region_shows_the_picture_and_the_rest_does_not(effect):
    frame, (labels, region) = noisy(), scene()
    out = keep_region(effect, region).apply(frame, labels)
    kept, person = region == 255, labels == PERSON
    assert np.array_equal(out[kept][:, :3], frame[kept])
    assert np.array_equal(out[person][:, :3], frame[person])
    rest = ~(kept | person)
    if out.shape[2] == 4:
        assert (out[kept][:, 3] == 255).all() and (out[rest][:, 3] == 0).all()
    else:  # blurred or replaced: nearly no pixel of the rest keeps its noise
        assert np.mean(np.all(out[rest] == frame[rest], axis=1)) < 0.05
    # without the region the same pixels are painted over (or transparent)
    plain = effect.apply(frame, labels)
    if plain.shape[2] == 4:
        assert (plain[kept][:, 3] == 0).all()
    else:
        assert np.mean(np.all(plain[kept] == frame[kept], axis=1)) < 0.05


def test_the_blur_does_not_spread_the_region_into_its_surroundings():
    """The region is left out of the background's average, as the person is: a white region
    on black does not make a grey halo around it."""
    frame = np.zeros((H, W, 3), np.uint8)
    labels, region = scene()
    frame[region == 255] = 255
    out = keep_region(BlurEffect(VOC, 8.0), region).apply(frame, labels)
    around = np.zeros((H, W), bool)
    around[15:45, 45:75] = True
    around &= region == 0
    assert out[around].max() == 0
    halo = BlurEffect(VOC, 8.0).apply(frame, labels)  # the region blurred into its surroundings
    assert halo[around].max() > 0


@pytest.mark.parametrize("look", [
    OverlayStyle(get_spec("espnetv2-voc").palette, 0, 0.5, None),
    OverlayEffect(OverlayStyle(get_spec("espnetv2-voc").palette, 0, 0.5, None)),
], ids=["style", "overlay effect"])
def test_an_overlay_has_no_front_and_comes_back_unchanged(look):
    assert keep_region(look, scene()[1]) is look


def test_no_region_is_the_look_itself_and_a_kept_one_leaves_the_original_alone():
    blur = BlurEffect(VOC, 8.0)
    assert keep_region(blur, None) is blur
    kept = keep_region(blur, scene()[1])
    assert blur.matte.region is None and np.array_equal(kept.matte.region, scene()[1])
    assert kept.matte == blur.matte  # the region is not part of what a matte is compared by


def test_a_region_of_another_size_is_refused_with_both_sizes():
    labels, _ = scene()
    matte = Matte(frozenset({PERSON}), 21, region=np.zeros((10, 20), np.uint8))
    with pytest.raises(ValueError, match="kept region is 20x10, the labels 80x60"):
        matte.hard(labels)
