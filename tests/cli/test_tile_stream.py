"""``process --tile`` of a still into a PNG, band by band: read, segmented, coloured and
written a band of rows at a time, with exactly the whole-picture path's labels and pixels,
memory that does not grow with the picture's height, and nothing written from a bad file."""

from __future__ import annotations

import csv
import tracemalloc

import cv2
import numpy as np
import pytest

import livesegment.pipeline.job as job
from livesegment.cli import main
from livesegment.core.compose.effects import BlurEffect, Matte, OverlayEffect
from livesegment.core.compose.views import class_shares, colour_labels
from livesegment.core.frames import Frame
from livesegment.core.masks.smoothing import MaskOptions
from livesegment.core.segmenter import Segmenter
from livesegment.pipeline.job import JobOptions, process_file, streams_tiled
from tests.cli.test_tile import PHOTO, red_patches
from tests.conftest import PERSON, fake_segmenter
from tests.pipeline.test_validate import SIDE

pytest.importorskip("pyvips")
TILED = MaskOptions(tile=True)


@pytest.fixture
def streamed(monkeypatch) -> list[int]:
    """The band-by-band path is taken (the list grows by one each time it is)."""
    taken: list[int] = []
    real = job._stream_tiled_image
    monkeypatch.setattr(job, "_stream_tiled_image",
                        lambda *a, **k: taken.append(1) or real(*a, **k))
    return taken


@pytest.mark.skipif(not PHOTO.is_file(), reason="../shared datasets not present")
def test_a_photo_streamed_gets_the_whole_picture_paths_labels_and_pixels(voc_segmenter,
                                                                         streamed, tmp_path):
    """espnetv2-voc on a photo of 12 tiles: the PNG, its class-id mask and its stats are
    those of segmenting and colouring the whole decoded picture at once."""
    src = tmp_path / "photo.jpg"
    cv2.imwrite(str(src), cv2.resize(cv2.imread(str(PHOTO)), (700, 560)),
                [cv2.IMWRITE_JPEG_QUALITY, 90])
    style = voc_segmenter.default_style()
    out, masks, stats = tmp_path / "out.png", tmp_path / "m", tmp_path / "s.csv"
    report = process_file(src, out, voc_segmenter, style, masks=masks,
                          options=JobOptions(stats=stats), mask_options=TILED)
    assert streamed and report.frames == 1 and (report.width, report.height) == (700, 560)
    assert voc_segmenter.tile_grid(560, 700).count == 12

    whole = voc_segmenter.compose_tiled(Frame(0, 0.0, cv2.imread(str(src))), style)
    assert len(np.unique(whole.labels)) > 1  # a person found, not a trivial answer
    np.testing.assert_array_equal(cv2.imread(str(out)), whole.image)
    np.testing.assert_array_equal(cv2.imread(str(masks / "000000.png"), cv2.IMREAD_UNCHANGED),
                                  whole.labels)
    with open(stats, newline="") as f:
        row = list(csv.reader(line for line in f if not line.startswith("#")))[1]
    expected = class_shares(whole.labels, voc_segmenter.spec.num_classes)
    assert row[2:] == [f"{s:.6f}" for s in expected]


@pytest.mark.parametrize(("style", "view", "suffix", "banded"), [
    ("overlay", "overlay", ".png", True),
    ("overlay", "mask", ".PNG", True),
    ("overlay-effect", "overlay", ".png", True),
    ("overlay", "overlay", ".jpg", False),        # OpenCV's JPEG encoder wants it whole
    ("overlay", "side-by-side", ".png", False),   # the source is shown whole beside it
    ("blur", "overlay", ".png", False),           # a blur reaches across rows
])
def test_which_tiled_stills_go_band_by_band(style, view, suffix, banded, tmp_path):
    overlay = fake_segmenter().default_style()
    looks = {"overlay": overlay, "overlay-effect": OverlayEffect(overlay),
             "blur": BlurEffect(Matte.for_classes(21, 0))}
    assert streams_tiled(looks[style], view, tmp_path / f"o{suffix}") is banded


def test_coloured_masks_and_a_jpeg_output_match_the_whole_picture_path(monkeypatch,
                                                                       streamed, tmp_path):
    monkeypatch.setattr(Segmenter, "create",
                        classmethod(lambda cls, *a, **k: fake_segmenter(SIDE)))
    bgr, red = red_patches(333, 517)
    src = tmp_path / "scan.png"
    cv2.imwrite(str(src), bgr)
    expected = np.where(red, PERSON, 0).astype(np.uint8)
    assert main(["process", str(src), "-o", str(tmp_path / "o.png"), "--tile", "--quiet",
                 "--masks", str(tmp_path / "m"), "--masks-style", "color"]) == 0
    assert streamed == [1]
    palette = fake_segmenter().spec.palette
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "m" / "000000.png")),
                                  colour_labels(expected, palette))
    assert main(["process", str(src), "-o", str(tmp_path / "o.jpg"), "--tile", "--quiet"]) == 0
    assert streamed == [1]  # a JPEG output: the whole picture, as before
    painted = cv2.imread(str(tmp_path / "o.png"))
    assert (painted[~red] == 90).all() and (painted[red] != bgr[red]).any(axis=1).all()


def test_memory_stays_a_band_whatever_the_pictures_height(streamed, tmp_path):
    """The arrays a streamed run makes (tracemalloc sees NumPy's and Python's memory) peak
    at a band of rows and two zlib compressors: the same for a picture four times as tall,
    and under half of one copy of it."""
    seg = fake_segmenter(SIDE)
    peaks = []
    for height in (500, 2000):
        bgr, _ = red_patches(height, 600)
        src = tmp_path / f"{height}.png"
        cv2.imwrite(str(src), bgr)
        tracemalloc.start()
        process_file(src, tmp_path / f"o{height}.png", seg, seg.default_style(),
                     masks=tmp_path / f"m{height}", mask_options=TILED)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert streamed == [1, 1]
    assert peaks[1] < 1.3 * peaks[0], peaks
    assert peaks[1] < 2000 * 600 * 3 / 2, peaks


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_a_still_cut_short_is_one_line_and_leaves_no_output(monkeypatch, tmp_path, capsys,
                                                            suffix):
    monkeypatch.setattr(Segmenter, "create",
                        classmethod(lambda cls, *a, **k: fake_segmenter(SIDE)))
    bgr, _ = red_patches(700, 900)
    src = tmp_path / f"scan{suffix}"
    cv2.imwrite(str(src), bgr)
    data = src.read_bytes()
    src.write_bytes(data[:len(data) * 2 // 3])  # the top rows decode, the rest are gone
    out = tmp_path / "out" / "o.png"
    out.parent.mkdir()
    code = main(["process", str(src), "-o", str(out), "--tile", "--quiet",
                 "--masks", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"livesegment: cannot decode image {src}: corrupt or cut short")
    assert list(out.parent.iterdir()) == [] and not (tmp_path / "m" / "000000.png").exists()


def test_a_still_over_the_band_by_band_limit_is_refused_before_the_model_runs(
        monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(Segmenter, "create",
                        classmethod(lambda cls, *a, **k: fake_segmenter(SIDE)))
    monkeypatch.setattr(job, "MAX_STREAMED_PICTURE_PIXELS", 100_000)
    monkeypatch.setattr(Segmenter, "tile_bands", lambda *a, **k: pytest.fail("segmented"))
    bgr, _ = red_patches(400, 500)
    src = tmp_path / "big.png"
    cv2.imwrite(str(src), bgr)
    code = main(["process", str(src), "-o", str(tmp_path / "o.png"), "--tile", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and f"image {src} is 500x400 pixels (0.2 MP); the largest accepted" in err
    assert "is 0.1 MP" in err and not (tmp_path / "o.png").exists()
