"""Pure frame maths, table-driven: sizes, normalisation, upsampling, colouring, blending."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from livesegment.core.compose.overlay import OverlayStyle, blend_numpy
from livesegment.core.compose.palette import cityscapes_palette, voc_palette
from livesegment.core.masks.postprocess import labels_from_logits
from livesegment.core.masks.preprocess import inference_size, to_model_input
from livesegment.errors import InputError

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@pytest.mark.parametrize(("h", "w", "short", "mult", "expected"), [
    (720, 1280, 256, 32, (256, 448)),    # 455 rounds to the nearest multiple of 32
    (1280, 720, 256, 32, (448, 256)),    # portrait keeps its orientation
    (720, 1280, 384, 32, (384, 672)),
    (1080, 1920, 520, 8, (520, 928)),
    (1, 1, 256, 32, (256, 256)),         # a 1x1 picture is scaled up, not rejected
    (5, 7, 64, 32, (64, 96)),
    (4320, 7680, 256, 32, (256, 448)),   # 8K never reaches the model at full size
    (100, 10000, 32, 32, (32, 3200)),    # extreme aspect keeps sides >= the multiple
])
def test_inference_size(h, w, short, mult, expected):
    out = inference_size(h, w, short, mult)
    assert out == expected
    assert all(side % mult == 0 for side in out)


def test_inference_size_too_small_names_the_minimum():
    with pytest.raises(InputError, match="at least 32"):
        inference_size(720, 1280, 16, 32)


def test_model_input_is_rgb_normalised_and_resized():
    bgr = np.zeros((4, 6, 3), np.uint8)
    bgr[..., 0], bgr[..., 1], bgr[..., 2] = 10, 128, 250  # B, G, R
    x = to_model_input(torch.from_numpy(bgr), (4, 6), MEAN, STD, torch.float32)
    assert x.shape == (1, 3, 4, 6)
    expected = [(250 / 255 - MEAN[0]) / STD[0], (128 / 255 - MEAN[1]) / STD[1],
                (10 / 255 - MEAN[2]) / STD[2]]
    assert torch.allclose(x[0, :, 0, 0], torch.tensor(expected), atol=1e-5)
    y = to_model_input(torch.from_numpy(np.repeat(np.repeat(bgr, 8, 0), 8, 1)), (4, 6), MEAN,
                       STD, torch.float32)
    assert torch.allclose(y, x, atol=1e-5)  # a uniform picture stays uniform when shrunk


def _blobs(c: int, h: int, w: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.avg_pool2d(torch.randn(1, c, h, w, generator=g), 3, 1, 1) * 4


@pytest.mark.parametrize(("c", "h", "w", "out"), [
    (21, 128, 224, (720, 1280)),   # the live case: 1/2-res logits to 720p
    (20, 16, 16, (7, 5)),          # downsampling to an odd tiny picture
    (21, 5, 7, (1, 1)),
    (3, 30, 40, (61, 83)),         # non-integer scale factors
    (21, 8, 8, (8, 8)),            # same size
])
def test_labels_equal_bilinear_then_argmax(c, h, w, out):
    logits = _blobs(c, h, w, seed=c * h)
    up = F.interpolate(logits, out, mode="bilinear", align_corners=False)[0]
    got = labels_from_logits(logits, out)
    assert got.dtype == torch.uint8 and tuple(got.shape) == out
    wrong = got.long() != up.argmax(0)
    # Only exact ties (equal up to float rounding) may resolve either way.
    chosen = up.gather(0, got.long()[None])[0]
    assert torch.all(up.max(0).values[wrong] - chosen[wrong] < 1e-5)
    assert wrong.float().mean() < 1e-5


def test_two_class_outlines_take_the_margin_shortcut(monkeypatch):
    """Smooth logits, like a real model's: most boundary cells have two contenders and are
    decided by one interpolated margin; the result still equals upsample-then-argmax."""
    import livesegment.core.masks.postprocess as pp

    crowded, boundary = [], []
    full, cell_pixels = pp._all_classes, pp.cell_pixels
    monkeypatch.setattr(pp, "_all_classes", lambda labels, table, ys, xs, *rest: (
        crowded.append(ys.numel()), full(labels, table, ys, xs, *rest))[1])
    monkeypatch.setattr(pp, "cell_pixels", lambda *args: (
        found := cell_pixels(*args), boundary.append(found[0].numel()))[0])
    smooth = F.interpolate(_blobs(21, 8, 14, seed=1), (128, 224), mode="bilinear")
    got = labels_from_logits(smooth, (720, 1280))
    up = F.interpolate(smooth, (720, 1280), mode="bilinear", align_corners=False)[0]
    assert torch.equal(got.long(), up.argmax(0))
    assert 0 < sum(crowded) < 0.2 * sum(boundary)  # few pixels needed all 21 classes


def test_labels_are_crisp_not_blocky():
    """A diagonal edge in 4x4 logits becomes a smooth staircase at 64x64, not 16-pixel blocks."""
    yy, xx = torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing="ij")
    logits = torch.stack([xx - yy, yy - xx])[None]
    labels = labels_from_logits(logits, (64, 64)).numpy()
    run_lengths = [int((row == 1).sum()) for row in labels[8:56]]
    assert len(set(run_lengths)) > 16  # the edge moves nearly every row, as bilinear does


def test_labels_memory_is_bounded_for_8k():
    """An 8K still would need ~2.8 GB of upsampled logits; chunked it does not."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Smooth logits, like a real model's: regions with outlines, not per-pixel noise.
    smooth = F.interpolate(_blobs(21, 8, 14, seed=1), (128, 224), mode="bilinear")
    labels = labels_from_logits(smooth, (4320, 7680))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert labels.shape == (4320, 7680)
    assert grown_mb < 1200


def _style(**kw) -> OverlayStyle:
    return OverlayStyle(voc_palette(21), 0, **kw)


def _scene() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    labels = np.zeros((24, 32), np.uint8)
    labels[2:10, 2:12] = 15   # person
    labels[12:20, 16:30] = 7  # car
    return bgr, labels


@pytest.mark.parametrize(("kw", "changed"), [
    ({"opacity": 0.0}, set()),                          # opacity 0: the frame as it was
    ({"opacity": 0.5}, {15, 7}),                        # every class but background
    ({"opacity": 0.5, "selected": frozenset({15})}, {15}),
    ({"opacity": 0.5, "selected": frozenset({7})}, {7}),
    ({"opacity": 0.5, "selected": frozenset({12})}, set()),   # a class absent from the frame
    ({"opacity": 0.5, "selected": frozenset({0})}, set()),    # background is never painted
    ({"opacity": 1.0, "selected": frozenset({15, 7})}, {15, 7}),
])
def test_blend_touches_exactly_the_painted_classes(kw, changed):
    bgr, labels = _scene()
    out = blend_numpy(bgr, labels, _style(**kw))
    differs = np.any(out != bgr, axis=2)
    for cls in (0, 7, 15):
        region = labels == cls
        if cls in changed:
            assert differs[region].mean() > 0.9
        else:
            assert not differs[region].any(), f"class {cls} pixels changed"


@pytest.mark.parametrize(("opacity", "pixel", "colour", "expected"), [
    (1.0, (10, 20, 30), (192, 128, 128), (128, 128, 192)),  # colour RGB -> BGR
    (0.5, (0, 0, 0), (192, 128, 128), (64, 64, 96)),
    (0.5, (255, 255, 255), (192, 128, 128), (192, 192, 224)),  # 191.5 rounds up
    (0.25, (100, 100, 100), (0, 0, 0), (75, 75, 75)),
])
def test_blend_values(opacity, pixel, colour, expected):
    palette = voc_palette(21)
    palette[15] = colour
    bgr = np.array([[pixel]], np.uint8)
    out = blend_numpy(bgr, np.array([[15]], np.uint8), OverlayStyle(palette, 0, opacity))
    assert tuple(out[0, 0]) == expected


def test_mask_only_shows_colours_and_black():
    bgr, labels = _scene()
    out = blend_numpy(bgr, labels, _style(opacity=0.3, mask_only=True,
                                          selected=frozenset({15})))
    assert tuple(out[5, 5]) == tuple(voc_palette(21)[15][::-1])
    assert not out[labels == 7].any() and not out[labels == 0].any()


def test_opacity_out_of_range_is_refused():
    with pytest.raises(InputError, match="outside 0..1"):
        _style(opacity=1.5)


@pytest.mark.parametrize(("palette", "n", "index", "rgb"), [
    (voc_palette(21), 21, 15, (192, 128, 128)),   # VOC person
    (voc_palette(21), 21, 1, (128, 0, 0)),        # aeroplane
    (cityscapes_palette(), 20, 0, (128, 64, 128)),  # road
    (cityscapes_palette(), 20, 11, (220, 20, 60)),  # person
])
def test_palettes(palette, n, index, rgb):
    assert palette.shape == (n, 3) and palette.dtype == np.uint8
    assert tuple(palette[index]) == rgb
