"""Files made to hurt: headers that claim enormous pictures, multi-page TIFFs with pages that
lie, and outputs on a full disk. Each is refused with one line naming the file, or processed
whole; none reaches a decoder's assertion or allocates what it claims."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from livesegment.core.compose.effects import Matte, ReplaceEffect
from livesegment.errors import InputError, OutputError
from livesegment.io import images
from livesegment.io.backgrounds import open_backdrop
from livesegment.io.class_stats import ClassStatsWriter
from livesegment.io.images import AnimatedPictureSource, animated_frames, read_image
from livesegment.io.video import VideoFileSource
from livesegment.pipeline.job import process_file


def png_header(path: Path, width: int, height: int) -> Path:
    """A PNG of ~70 bytes whose header claims ``width`` x ``height`` RGB pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


def gif_header(path: Path, width: int, height: int, frames: int = 2) -> Path:
    """An animated GIF of ~90 bytes: a ``width`` x ``height`` canvas, 1x1 pictures on it."""
    data = (b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0)
            + b"\x00\x00\x00\xff\xff\xff" + b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")
    for _ in range(frames):
        data += (b"!\xf9\x04\x00\x0a\x00\x00\x00" + b","
                 + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00")
    path.write_bytes(data + b";")
    return path


@pytest.mark.parametrize(("size", "message"), [
    ((100_000, 100_000), r"states a size over 179.0 MP; the largest accepted is 50.0 MP"),
    ((30_000, 30_000), r"states a size over 179.0 MP"),  # under OpenCV's own limit: 2.7 GB
    ((9_000, 9_000), r"is 9000x9000 pixels \(81.0 MP\); the largest accepted is 50.0 MP"),
])
def test_a_header_bomb_is_refused_before_decoding(tmp_path, capfd, size, message):
    path = png_header(tmp_path / "bomb.png", *size)
    with pytest.raises(InputError, match=message):
        read_image(path)
    assert capfd.readouterr().err == ""  # no decoder or Pillow warning on the way


def test_a_decoders_own_assertion_becomes_the_corrupt_line(tmp_path, monkeypatch):
    """A header Pillow cannot parse reaches OpenCV, whose limit is an assertion (cv2.error)."""
    monkeypatch.setattr(images, "read_header", lambda data, what, limit: None)
    path = png_header(tmp_path / "bomb.png", 100_000, 100_000)
    with pytest.raises(InputError, match=r"cannot decode image .*bomb.png: not a supported "
                                         r"picture or corrupt"):
        read_image(path)


def test_a_gif_canvas_bomb_is_refused_before_a_frame_is_decoded(tmp_path):
    """90 bytes stating a 16000x16000 canvas: FFmpeg allocated 1 GB a frame (4.4 GB peak)."""
    path = gif_header(tmp_path / "bomb.gif", 16_000, 16_000)
    with pytest.raises(InputError, match=r"video .*bomb.gif is 16000x16000 pixels .* for each "
                                         r"frame of a video is 8.8 MP"):
        VideoFileSource(path)


@pytest.mark.parametrize("make", [
    lambda d: png_header(d / "back.png", 100_000, 100_000),
    lambda d: gif_header(d / "back.gif", 16_000, 16_000),
])
def test_a_background_bomb_names_the_background(tmp_path, make):
    with pytest.raises(InputError, match=r"background .*back\.(png|gif)"):
        open_backdrop(make(tmp_path))


def test_a_thin_strip_background_is_read_and_covers(tmp_path):
    path = tmp_path / "strip.png"
    Image.new("RGB", (30_000, 1), (10, 20, 30)).save(path)  # a few hundred bytes
    effect = ReplaceEffect(Matte.for_classes(21, 0), open_backdrop(path))
    out = effect.apply(np.zeros((90, 160, 3), np.uint8), np.zeros((90, 160), np.uint8))
    assert (out == (30, 20, 10)).all()


# --- multi-page TIFF -------------------------------------------------------------------------

COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255))  # RGB


def tiff_pages(path: Path, sizes: list[tuple[int, int]], mode: str = "RGB") -> Path:
    pages = [Image.new(mode, size, COLOURS[i % 3] if mode == "RGB" else 1000 * (i + 1))
             for i, size in enumerate(sizes)]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    return path


def claim_size(path: Path, page: int, width: int, height: int) -> None:
    """Rewrites page ``page``'s ImageWidth/ImageLength tags (little-endian TIFF) in place."""
    data = bytearray(path.read_bytes())
    ifd = struct.unpack_from("<I", data, 4)[0]
    for _ in range(page):
        count = struct.unpack_from("<H", data, ifd)[0]
        ifd = struct.unpack_from("<I", data, ifd + 2 + 12 * count)[0]
    count = struct.unpack_from("<H", data, ifd)[0]
    for i in range(count):
        at = ifd + 2 + 12 * i
        tag = struct.unpack_from("<H", data, at)[0]
        if tag in (256, 257):
            struct.pack_into("<HHII", data, at, tag, 4, 1, width if tag == 256 else height)
    path.write_bytes(bytes(data))


def test_tiff_pages_are_frames(tmp_path):
    path = tiff_pages(tmp_path / "pages.tif", [(64, 48)] * 3)
    assert animated_frames(path) == 3
    source = AnimatedPictureSource(path)
    frames = list(source.frames())
    source.close()
    assert [f.index for f in frames] == [0, 1, 2] and source.notes == []
    for frame, (r, g, b) in zip(frames, COLOURS):
        assert frame.bgr.shape == (48, 64, 3) and tuple(frame.bgr[0, 0]) == (b, g, r)


def test_tiff_pages_of_another_size_are_left_out_and_named(tmp_path):
    path = tiff_pages(tmp_path / "pages.tif", [(64, 48), (64, 48), (64, 48), (32, 24)])
    claim_size(path, 1, 60_000, 60_000)  # page 2 lies: 3.6 gigapixels, never decoded
    source = AnimatedPictureSource(path)
    frames = list(source.frames())
    source.close()
    assert len(frames) == 2
    assert [tuple(f.bgr[0, 0]) for f in frames] == [(0, 0, 255), (255, 0, 0)]
    assert source.notes == [f"left out 2 of 4 pages of {path}, whose size is not the first "
                            "page's 64x48: pages 2, 4"]


def test_a_tiff_whose_first_page_lies_is_refused(tmp_path):
    path = tiff_pages(tmp_path / "pages.tif", [(64, 48), (64, 48)])
    claim_size(path, 0, 60_000, 60_000)
    with pytest.raises(InputError, match=r"pages.tif states a size over 179.0 MP"):
        AnimatedPictureSource(path)


def test_sixteen_bit_tiff_pages_keep_their_brightness(tmp_path):
    path = tiff_pages(tmp_path / "deep.tif", [(8, 6), (8, 6)], mode="I;16")
    source = AnimatedPictureSource(path)
    values = [int(f.bgr[0, 0, 0]) for f in source.frames()]
    source.close()
    assert values == [1000 >> 8, 2000 >> 8]


def test_a_multi_page_tiff_is_processed_page_by_page(tmp_path, voc_segmenter):
    path = tiff_pages(tmp_path / "pages.tif", [(64, 48)] * 3 + [(32, 24)])
    report = process_file(path, tmp_path / "out.mp4", voc_segmenter,
                          voc_segmenter.default_style())
    assert report.frames == 3
    assert report.notes == (f"left out 1 of 4 pages of {path}, whose size is not the first "
                            "page's 64x48: pages 4",)
    with pytest.raises(OutputError, match=r"is a multi-page picture \(4 pages\); give a video "
                                          "output"):
        process_file(path, tmp_path / "out.tif", voc_segmenter, voc_segmenter.default_style())
    assert not (tmp_path / "out.tif").exists()


# --- outputs on a full disk ------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_stats_on_a_full_disk_name_the_file_and_leave_nothing(tmp_path, monkeypatch, suffix):
    from livesegment.io import class_stats

    monkeypatch.setattr(class_stats, "open", lambda *a, **k: open("/dev/full", "w"),
                        raising=False)  # every write fails as a full disk does: ENOSPC
    stats = tmp_path / f"shares{suffix}"
    writer = ClassStatsWriter(stats, ("background", "person"))
    writer.add(0, 0.0, np.array([0.25, 0.75]))
    with pytest.raises(OutputError, match=f"cannot write stats {stats}: No space left on device"):
        writer.finish()
    assert list(tmp_path.iterdir()) == []
