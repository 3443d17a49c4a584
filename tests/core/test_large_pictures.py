"""Large pictures in bands: colouring and refinement work on bounded pieces, with the same
result as in one piece."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import livesegment.core.segmenter as segmenter_module
from livesegment.core.compose.effects import OverlayEffect, render
from livesegment.core.masks.refine import cell_labels, guided_coefficients
from livesegment.core.masks.smoothing import MaskOptions
from livesegment.pipeline.job import JobOptions, process_file
from tests.conftest import SHARED, synthetic_frame

PHOTO = SHARED / "datasets" / "ccp-person" / "images" / "0002.jpg"


def _counting_render(monkeypatch) -> list[int]:
    """Counts the calls of the colouring function, each with the rows it was given."""
    rows: list[int] = []

    def counted(look, pixels, labels, pts_s=0.0):
        rows.append(pixels.shape[0])
        return render(look, pixels, labels, pts_s)

    monkeypatch.setattr(segmenter_module, "render", counted)
    return rows


@pytest.mark.parametrize("in_place", [False, True])
def test_an_overlay_is_coloured_band_by_band_as_in_one_piece(monkeypatch, voc_segmenter,
                                                             in_place):
    height, width = 700, 900
    bgr = synthetic_frame(3, height, width)
    rng = np.random.default_rng(0)
    labels = torch.from_numpy(rng.choice([0, 15, 8], size=(height, width)).astype(np.uint8))
    style = voc_segmenter.default_style()
    whole = render(style, torch.from_numpy(bgr), labels)
    monkeypatch.setattr(segmenter_module, "BAND_PIXELS", 100 * width)
    rows = _counting_render(monkeypatch)
    frame = bgr.copy()
    out = frame if in_place else None
    banded = segmenter_module.render_in_bands(OverlayEffect(style), torch.from_numpy(frame),
                                              labels, 0.0, out)
    assert rows == [100] * 7  # seven bands of 100 rows
    assert np.array_equal(banded, whole)
    if in_place:
        assert banded is frame  # painted over the frame: no second picture


def test_refinement_in_small_chunks_equals_one_chunk():
    """A sharp disc in a 1200x1800 picture, the model's guess a blurry disc on a 40x60 grid:
    the boundary cells computed 500 pixels at a time give the labels of one go."""
    yy, xx = np.mgrid[:1200, :1800]
    disc = (yy - 600) ** 2 + (xx - 800) ** 2 < 400 ** 2
    bgr = np.where(disc[..., None], (40, 60, 200), (200, 190, 30)).astype(np.uint8)
    gy, gx = (np.mgrid[:40, :60] + 0.5) * 30
    distance = np.sqrt((gy - 600) ** 2 + (gx - 830) ** 2) - 400
    person = torch.sigmoid(torch.from_numpy(-distance / 60).float())[None, None]
    target = 2 * person - 1  # person minus background
    pixels = torch.from_numpy(bgr)
    a, b = guided_coefficients(target, pixels, 1, 1e-2)
    one = cell_labels(a, b, pixels, [15, 0], chunk=1 << 30)
    tiny = cell_labels(a, b, pixels, [15, 0], chunk=500)
    assert torch.equal(one, tiny)
    on_disc = (one.numpy() == 15) == disc
    assert on_disc.mean() > 0.995  # refined onto the picture's disc


@pytest.mark.skipif(not PHOTO.is_file(), reason="../shared/datasets not present")
def test_a_large_photo_is_processed_in_bands_with_the_unbanded_result(
        monkeypatch, tmp_path: Path, voc_segmenter):
    """A 2200x1650 photo through ``process`` with the defaults: coloured in several bands
    (the band size made small), the written picture and masks equal those of one band."""
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), cv2.resize(cv2.imread(str(PHOTO)), (1650, 2200)))
    style = voc_segmenter.default_style()
    outputs = {}
    for name, band in (("whole", 1 << 30), ("bands", 400 * 1650)):
        monkeypatch.setattr(segmenter_module, "BAND_PIXELS", band)
        rows = _counting_render(monkeypatch)
        out = tmp_path / f"{name}.png"
        process_file(photo, out, voc_segmenter, style, masks=tmp_path / name,
                     options=JobOptions(), mask_options=MaskOptions())
        outputs[name] = (cv2.imread(str(out)), cv2.imread(str(tmp_path / name / "000000.png"),
                                                          cv2.IMREAD_UNCHANGED), rows)
    picture, mask, rows = outputs["bands"]
    assert rows == [400] * 5 + [200]
    assert (mask == 15).mean() > 0.1  # a person was found and painted
    assert np.array_equal(picture, outputs["whole"][0])
    assert np.array_equal(mask, outputs["whole"][1])
    assert not np.array_equal(picture, cv2.imread(str(photo)))
