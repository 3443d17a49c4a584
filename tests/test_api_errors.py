"""The Python API's argument errors: a ValueError or TypeError naming the argument and what
it needs, never ZeroDivisionError, AttributeError or a bare TypeError from deep inside."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import livesegment
from tests.conftest import fake_segmenter

PICTURE = np.zeros((4, 4, 3), np.uint8)
LABELS = np.zeros((4, 4), np.uint8)


@pytest.fixture(scope="module")
def model():
    return fake_segmenter()


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda m: livesegment.segment(m, np.zeros((0, 0, 3), np.uint8)), ValueError,
     r"bgr: the picture is empty \(0x0 pixels\)"),
    (lambda m: livesegment.segment(m, np.zeros((0, 5, 3), np.uint8)), ValueError,
     r"bgr: the picture is empty \(5x0 pixels\)"),
    (lambda m: livesegment.segment(m, None), TypeError,
     "bgr must be an HxWx3 uint8 BGR numpy array, not NoneType"),
    (lambda m: livesegment.segment(None, PICTURE), TypeError,
     "model must be a Segmenter from load_model.., not NoneType"),
    (lambda m: livesegment.segment("espnetv2-voc", PICTURE), TypeError,
     "model must be a Segmenter from load_model.., not str"),
    (lambda m: livesegment.load_model(123), TypeError, r"name must be a model name \(str"),
    (lambda m: livesegment.load_model(None), TypeError, "name must be a model name"),
    (lambda m: livesegment.load_model(size="big"), TypeError,
     "size must be a whole number of pixels or None, not 'big'"),
    (lambda m: livesegment.load_model(size=2.5), TypeError, "size must be a whole number"),
    (lambda m: livesegment.load_model(weights=7), TypeError, "weights must be a path"),
    (lambda m: livesegment.overlay(None, LABELS, m), TypeError, "bgr must be an HxWx3"),
    (lambda m: livesegment.overlay(PICTURE, None, m), TypeError,
     "labels must be an HxW integer array of class ids"),
    (lambda m: livesegment.overlay(PICTURE, LABELS.astype(float), m), TypeError,
     "labels must be an HxW integer array"),
    (lambda m: livesegment.overlay(PICTURE, LABELS, "espnetv2-voc"), TypeError,
     "model must be a Segmenter"),
    (lambda m: livesegment.overlay(PICTURE, LABELS, m, classes=[99]), ValueError,
     r"classes \[99\]: espnetv2-voc has class ids 0..20"),
    (lambda m: next(livesegment.read_frames(None)), TypeError,
     r"path must be a path \(str or os.PathLike\), not NoneType"),
    (lambda m: livesegment.process_file(None, "out.mp4", m), TypeError,
     "source must be a path"),
    (lambda m: livesegment.process_file("in.mp4", None, m), TypeError, "output must be a path"),
    (lambda m: livesegment.process_file("in.mp4", "out.mp4", "espnetv2-voc"), TypeError,
     "model must be a Segmenter"),
])
def test_argument_errors_name_the_argument(model, call, error, message):
    with pytest.raises(error, match=message):
        call(model)


def test_one_class_named_alone_is_that_class_not_its_letters(model):
    labels = LABELS.copy()
    labels[:2] = 15  # person
    painted = livesegment.overlay(PICTURE, labels, model, classes="person", opacity=1.0)
    assert painted[:2].any() and not painted[2:].any()


def test_read_frames_gives_every_page_of_a_tiff(tmp_path):
    pages = [Image.new("RGB", (8, 6), colour) for colour in ("red", "lime", "blue")]
    path = tmp_path / "pages.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    got = [tuple(bgr[0, 0]) for bgr in livesegment.read_frames(path)]
    assert got == [(0, 0, 255), (0, 255, 0), (255, 0, 0)]
