"""A still read band by band (io/still_rows.py) and a PNG written band by band
(io/png_rows.py): the same pixels as the whole-picture reader and writer, and nothing left
behind by a file that fails part-way."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from livesegment.errors import InputError, OutputError
from livesegment.io.images import read_image
from livesegment.io.png_rows import PngRows
from livesegment.io.still_rows import StillRows

pytest.importorskip("pyvips")


def photo_like(height: int = 300, width: int = 410) -> np.ndarray:
    """Smooth gradients and sharp edges, so that a decoder's every rounding shows."""
    yy, xx = np.mgrid[:height, :width]
    bgr = np.dstack(((xx * 255 // width), (yy * 255 // height), ((xx + yy) % 97) * 2))
    bgr = bgr.astype(np.uint8)
    bgr[40:120, 60:200] = (0, 0, 255)
    return bgr


def save(path, picture: np.ndarray, mode: str | None = None):
    if mode is not None:  # through Pillow: the layouts OpenCV does not write
        Image.fromarray(picture, mode).save(path)
    else:
        assert cv2.imwrite(str(path), picture)
    return path


def in_tile_rows(rows: StillRows, tile: int = 96, stride: int = 70) -> np.ndarray:
    """The whole picture as a tiled run reads it: overlapping bands, tops only rising."""
    parts = []
    for top in range(0, rows.height, stride):
        band = rows.read(top, top + tile)
        parts.append(band[:min(stride, rows.height - top)])
    return np.concatenate(parts)


PIC = photo_like()


@pytest.mark.parametrize(("name", "picture", "mode"), [
    ("a.jpg", PIC, None),
    ("grey.jpg", PIC[:, :, 1], None),
    ("a.png", PIC, None),
    ("grey.png", PIC[:, :, 2], None),
    ("deep.png", PIC.astype(np.uint16) * 257 + 9, None),       # 16 bits: the high byte
    ("alpha.png", cv2.cvtColor(PIC, cv2.COLOR_BGR2BGRA), None),  # alpha dropped
    ("grey-alpha.png", PIC[:, :, :2].copy(), "LA"),
    ("palette.png", PIC[:, :, ::-1].copy(), "RGB"),              # saved as RGB by Pillow
    ("a.tif", PIC, None),
])
def test_rows_are_the_whole_picture_readers_pixels(tmp_path, name, picture, mode):
    path = save(tmp_path / name, picture, mode)
    rows = StillRows.open(path, 10**9)
    assert rows is not None and (rows.height, rows.width) == PIC.shape[:2]
    np.testing.assert_array_equal(in_tile_rows(rows), read_image(path))


def test_pictures_that_cannot_come_in_rows_go_the_whole_way(tmp_path):
    """None: read whole instead (BMP and WebP, a CMYK JPEG, a picture an EXIF tag turns)."""
    turned = Image.fromarray(PIC[:, :, ::-1].copy())
    exif = turned.getexif()
    exif[0x0112] = 6
    turned.save(tmp_path / "turned.jpg", exif=exif)
    Image.fromarray(PIC[:, :, ::-1].copy()).convert("CMYK").save(tmp_path / "cmyk.jpg")
    for path in (save(tmp_path / "a.bmp", PIC), save(tmp_path / "a.webp", PIC),
                 tmp_path / "turned.jpg", tmp_path / "cmyk.jpg"):
        assert StillRows.open(path, 10**9) is None, path.name
    assert StillRows.open(tmp_path / "missing.png", 10**9) is None


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_a_file_cut_short_is_an_error_naming_it_when_the_rows_reach_the_cut(tmp_path, suffix):
    whole = save(tmp_path / f"whole{suffix}", PIC).read_bytes()
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(whole[:len(whole) // 2])
    rows = StillRows.open(path, 10**9)
    assert rows is not None  # the header is whole: the damage shows only in the rows
    with pytest.raises(InputError, match=rf"cannot decode image {path}: corrupt or cut short"):
        in_tile_rows(rows)


def test_a_stated_size_over_the_limit_is_refused_before_any_row(tmp_path):
    path = save(tmp_path / "a.png", PIC)
    with pytest.raises(InputError, match=r"is 410x300 pixels \(0.1 MP\); the largest"):
        StillRows.open(path, 100_000)


def test_rows_are_read_top_to_bottom(tmp_path):
    rows = StillRows.open(save(tmp_path / "a.png", PIC), 10**9)
    np.testing.assert_array_equal(rows.read(100, 150), PIC[100:150])  # rows above: skipped
    with pytest.raises(ValueError, match="top to bottom"):
        rows.read(99, 150)


@pytest.mark.parametrize(("picture", "bands"), [
    (PIC, (1, 70, 229)),
    (PIC[:, :, 0].copy(), (300,)),
    (cv2.cvtColor(PIC, cv2.COLOR_BGR2BGRA), (64,) * 4 + (44,)),
])
def test_a_png_written_in_bands_reads_back_exactly(tmp_path, picture, bands):
    path = tmp_path / "out.png"
    channels = 1 if picture.ndim == 2 else picture.shape[2]
    with PngRows(path, PIC.shape[1], PIC.shape[0], channels) as png:
        top = 0
        for count in bands:
            png.write(picture[top:top + count])
            top += count
    np.testing.assert_array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), picture)
    with Image.open(path) as pil:  # a second decoder: chunk CRCs and the zlib stream
        pil.load()
        rgb = np.asarray(pil)
    expected = picture if channels == 1 else cv2.cvtColor(
        picture, cv2.COLOR_BGR2RGB if channels == 3 else cv2.COLOR_BGRA2RGBA)
    np.testing.assert_array_equal(rgb, expected)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_a_png_left_short_or_failed_leaves_nothing_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.png"
    path.write_bytes(b"earlier")
    with pytest.raises(OutputError, match=rf"cannot write mask {path}: 200 of its 300 rows"):
        with PngRows(path, 410, 300, 3, what="mask ") as png:
            png.write(PIC[:200])
    with pytest.raises(KeyboardInterrupt):
        with PngRows(path, 410, 300) as png:
            png.write(PIC[:100])
            raise KeyboardInterrupt
    with pytest.raises(ValueError, match="rows of shape"):
        with PngRows(path, 410, 300) as png:
            png.write(PIC[:10, :400])
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
    assert path.read_bytes() == b"earlier"
