"""``--tile`` end to end: the segmenter, the API, ``process`` and ``eval`` on tiles at full
detail, with the picture limits and the refusals it brings."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

import livesegment
import livesegment.core.masks.tiles as tiles
import livesegment.pipeline.job as job
from livesegment.cli import main
from livesegment.core.budget import check_tile_band
from livesegment.core.frames import Frame
from livesegment.core.masks.smoothing import MaskOptions
from livesegment.core.segmenter import Segmenter, mask_labels
from livesegment.errors import InputError
from tests.conftest import PERSON, SHARED, fake_segmenter, synthetic_frame
from tests.pipeline.test_validate import SIDE, person_dataset

PHOTO = SHARED / "datasets" / "ccp-person" / "images" / "0002.jpg"  # a person, head to knees


def red_patches(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A grey picture with red patches across where tiles meet, and where they are."""
    bgr = np.full((height, width, 3), 90, np.uint8)
    red = np.zeros((height, width), bool)
    red[30:170, 40:300] = True
    red[height - 90:height - 7, 5:width - 3] = True
    red[:, width // 2:width // 2 + 11] = True
    bgr[red] = (0, 0, 255)
    return bgr, red


@pytest.fixture
def red_is_person(monkeypatch):
    """Every model is the stand-in (person wherever the picture is red, pixel by pixel)."""
    monkeypatch.setattr(Segmenter, "create",
                        classmethod(lambda cls, *a, **k: fake_segmenter(SIDE)))


@pytest.mark.skipif(not PHOTO.is_file(), reason="../shared datasets not present")
def test_a_picture_the_size_of_one_tile_gets_the_untiled_labels(voc_segmenter):
    bgr = np.ascontiguousarray(cv2.resize(cv2.imread(str(PHOTO)), (256, 384))[64:320])
    untiled = mask_labels(voc_segmenter.infer(Frame(0, 0.0, bgr))).numpy()
    tiled = voc_segmenter.tile_labels(torch.from_numpy(bgr)).numpy()
    assert voc_segmenter.tile_grid(256, 256).count == 1
    assert len(np.unique(untiled)) > 1  # not a trivial answer
    np.testing.assert_array_equal(tiled, untiled)


def test_the_fused_model_tiles_with_its_main_network(voc_segmenter):
    """A tile cannot tell a close-up from a crowd, so the fused model's selfie half stays
    out and the labels are ESPNetv2's own."""
    fused = Segmenter.create("espnetv2-voc-fused", "cpu")
    bgr = synthetic_frame(3, 300, 420)
    pixels = torch.from_numpy(bgr)
    np.testing.assert_array_equal(fused.tile_labels(pixels).numpy(),
                                  voc_segmenter.tile_labels(pixels).numpy())


def test_tiles_at_full_detail_find_every_red_pixel():
    """At scale 1 a pixel-wise model's answer is exact, tile edges or not (tiles of 64)."""
    model = fake_segmenter(64)
    bgr, red = red_patches(333, 517)
    labels = livesegment.segment(model, bgr, tile=True)
    np.testing.assert_array_equal(labels, np.where(red, PERSON, 0))
    # Without tiles the same picture is seen at 64 pixels: the thin stripe is lost.
    assert (livesegment.segment(model, bgr, refine=False) != labels).sum() > 1000


def test_process_tile_writes_the_overlay_and_masks_band_by_band(red_is_person, monkeypatch,
                                                                tmp_path):
    bands: list[tuple[int, ...]] = []
    real = tiles.new_band
    monkeypatch.setattr(tiles, "new_band", lambda *shape: bands.append(shape) or real(*shape))
    bgr, red = red_patches(700, 900)
    src = tmp_path / "scan.png"
    cv2.imwrite(str(src), bgr)
    out = tmp_path / "scan-out.png"
    assert main(["process", str(src), "-o", str(out), "--tile", "--quiet", "--masks",
                 str(tmp_path / "m")]) == 0
    mask = cv2.imread(str(tmp_path / "m" / "000000.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(mask, np.where(red, PERSON, 0))
    painted = cv2.imread(str(out))
    assert (painted[~red] == 90).all() and (painted[red] != bgr[red]).any(axis=1).all()
    # one 64-pixel tile and the rows two tile rows share across the width, whatever the height
    grid = tiles.TileGrid.of(700, 900, SIDE)
    assert sorted(bands) == [(21, grid.shared_rows, 900), (21, SIDE, SIDE)]


def test_tile_lifts_the_still_limit_only_where_colouring_goes_in_bands(red_is_person,
                                                                       monkeypatch, tmp_path,
                                                                       capsys):
    monkeypatch.setattr(job, "MAX_PICTURE_PIXELS", 100_000)
    monkeypatch.setattr(job, "MAX_TILED_PICTURE_PIXELS", 1_000_000)
    bgr, _ = red_patches(400, 500)  # 0.2 MP
    src = tmp_path / "big.png"
    cv2.imwrite(str(src), bgr)

    def run(*extra: str) -> tuple[int, str]:
        code = main(["process", str(src), "-o", str(tmp_path / "o.png"), "--quiet", *extra])
        return code, capsys.readouterr().err

    code, err = run()
    assert code == 2 and "is 500x400 pixels (0.2 MP); the largest accepted is 0.1 MP" in err
    assert run("--tile")[0] == 0
    code, err = run("--tile", "--effect", "blur")  # blurring needs whole-picture copies
    assert code == 2 and "the largest accepted is 0.1 MP" in err
    code, err = run("--tile", "--view", "side-by-side")
    assert code == 2 and "the largest accepted is 0.1 MP" in err


def test_tile_refuses_a_video_before_the_model_loads(clip, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Segmenter, "create", classmethod(lambda *a, **k: pytest.fail("loaded")))
    code = main(["process", str(clip), "-o", str(tmp_path / "o.mp4"), "--tile"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"--tile works on still pictures; {clip} is a video" in err
    assert not (tmp_path / "o.mp4").exists()


def test_process_file_with_tile_refuses_a_video(clip, tmp_path):
    with pytest.raises(InputError, match="works on still pictures"):
        livesegment.process_file(clip, tmp_path / "o.mp4", fake_segmenter(), tile=True)


def test_eval_tile_scores_tiles_and_says_so(red_is_person, tmp_path, capsys):
    person_dataset(tmp_path / "data")
    assert main(["eval", "espnetv2-voc", str(tmp_path / "data"), "--tile", "--quiet"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("espnetv2-voc, size 64, tiled, on 2 pictures:")
    person = next(line for line in table if line.startswith("person")).split()
    assert person[1] == "0.8000"  # the crafted case's figures (tests/pipeline/test_validate)


@pytest.mark.parametrize(("classes", "tile", "width", "refused"), [
    (21, 256, 12000, False),   # a 12000-pixel-wide picture in ESPNetv2's tiles: 258 MB
    (21, 512, 12000, False),   # 516 MB, just under 512 MiB
    (21, 512, 13000, True),
    (2, 1024, 60000, False),   # a two-class defect model: 491 MB
])
def test_a_band_of_tiles_is_held_to_its_share_of_the_budget(classes, tile, width, refused):
    if not refused:
        check_tile_band(classes, tile, width, "image x.png")
        return
    with pytest.raises(InputError, match=r"image x.png is 13000 pixels wide: .* use a smaller "
                                         r"--size"):
        check_tile_band(classes, tile, width, "image x.png")


def test_a_tiled_still_reports_its_rows_and_stops_between_bands(red_is_person, tmp_path):
    """A big still takes minutes in tiles: the bar hears of each band, and Ctrl-C (the stop
    event) ends the job after the band in hand, writing nothing."""
    import threading

    from livesegment.pipeline.job import process_file

    bgr, _ = red_patches(300, 200)
    src, out = tmp_path / "scan.png", tmp_path / "o.png"
    cv2.imwrite(str(src), bgr)
    seg = fake_segmenter(SIDE)
    heard = []
    report = process_file(src, out, seg, seg.default_style(), on_progress=heard.append,
                          mask_options=MaskOptions(tile=True))
    assert report.frames == 1 and out.is_file()
    rows = [(p.unit, p.media_s, p.total_s) for p in heard]
    assert rows[-1] == ("rows", 300, 300) and len(rows) == len(seg.tile_grid(300, 200).rows)
    assert [r[1] for r in rows] == sorted({r[1] for r in rows})  # rising, each band once

    stop, out2 = threading.Event(), tmp_path / "o2.png"
    report = process_file(src, out2, seg, seg.default_style(), stop=stop,
                          on_progress=lambda p: stop.set(),
                          mask_options=MaskOptions(tile=True))
    assert report.interrupted and report.output is None and not out2.exists()


def test_the_bar_counts_a_tiled_stills_rows(capsys):
    from livesegment.cli.progress import ProgressBar
    from livesegment.pipeline.job import Progress

    bar = ProgressBar(enabled=True)
    bar.update(Progress(0, 128, 512, 3.0, "rows"))
    bar.close()
    assert "128/512 rows" in capsys.readouterr().err
