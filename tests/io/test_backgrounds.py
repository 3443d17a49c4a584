"""Backgrounds for the replace effect: stills, colours, and videos that keep their own speed
and loop, and alpha videos whose transparency survives the file."""

from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from livesegment.core.compose.effects import AlphaEffect, Matte
from livesegment.errors import InputError, OutputError
from livesegment.io.backgrounds import VideoBackdrop, open_backdrop
from livesegment.io.video import VideoFileSink
from tests.conftest import make_clip, synthetic_frame

H, W = 96, 128


def frame_index(picture: np.ndarray, count: int) -> int:
    """Which synthetic frame (square moving 4 px per frame) a decoded picture is."""
    errors = [np.abs(picture.astype(int) - synthetic_frame(i, H, W)).mean() for i in range(count)]
    best = int(np.argmin(errors))
    assert errors[best] < 4, errors[best]
    return best


@pytest.fixture
def ten_frames(tmp_path):
    path = tmp_path / "bg.mp4"
    make_clip(path, frames=10, size=(H, W), rate=25)  # 0.4 s
    return path


@pytest.mark.parametrize("pts_s, expected", [
    (0.0, 0), (0.039, 0), (0.04, 1), (0.1, 2), (0.39, 9),   # its own speed (25 fps)
    (0.4, 0), (0.45, 1), (0.81, 0), (1.23, 0), (1.3, 2),    # looped after 0.4 s
])
def test_video_background_plays_at_its_rate_and_loops(ten_frames, pts_s, expected):
    backdrop = VideoBackdrop(ten_frames)
    assert frame_index(backdrop.picture_at(pts_s, (H, W)), 10) == expected


def test_video_background_follows_a_slower_foreground_and_goes_back(ten_frames):
    backdrop = open_backdrop(str(ten_frames))
    at_10fps = [frame_index(backdrop.picture_at(i / 10, (H, W)), 10) for i in range(9)]
    assert at_10fps == [0, 2, 5, 7, 0, 2, 5, 7, 0]  # 2.5 background frames per frame, looped
    assert frame_index(backdrop.picture_at(0.2, (H, W)), 10) == 5  # back in time: restarts


def test_background_is_scaled_to_cover(ten_frames, tmp_path):
    backdrop = VideoBackdrop(ten_frames)
    assert backdrop.picture_at(0.0, (300, 200)).shape == (300, 200, 3)
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), np.full((10, 20, 3), 77, np.uint8))
    picture = open_backdrop(still).picture_at(5.0, (50, 50))
    assert picture.shape == (50, 50, 3) and (picture == 77).all()


def test_colour_background():
    assert (open_backdrop("#ff0000").picture_at(0, (4, 6)) == (0, 0, 255)).all()


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.png", "background not found"),
    (lambda d: d / "notes.txt", "neither a picture"),
    (lambda d: (d / "bad.png").write_bytes(b"junk") and d / "bad.png", "cannot read background"),
    (lambda d: (d / "bad.mp4").write_bytes(b"junk") and d / "bad.mp4", "cannot read background"),
    (lambda d: "#12345", "#RRGGBB"),
])
def test_bad_backgrounds_are_one_line_input_errors(tmp_path, make, message):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match=message) as err:
        open_backdrop(make(tmp_path))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("suffix, decoder", [(".webm", "libvpx-vp9"), (".mov", None)])
def test_alpha_video_round_trip_keeps_transparency(tmp_path, suffix, decoder):
    """BGRA frames through VideoFileSink(alpha=True); decoding gives alpha 255 on the person
    and 0 elsewhere, and the person's colours back."""
    labels = np.zeros((H, W), np.uint8)
    labels[20:70, 30:90] = 15
    effect = AlphaEffect(Matte.for_classes(21, 0))
    out = tmp_path / f"alpha{suffix}"
    sink = VideoFileSink(out, W, H, Fraction(1, 1000), Fraction(25), alpha=True)
    for i in range(5):
        sink.write(effect.apply(synthetic_frame(i, H, W), labels), i * 0.04)
    sink.finish()
    with av.open(str(out)) as c:
        stream = c.streams.video[0]
        ctx = av.CodecContext.create(decoder, "r") if decoder else stream.codec_context
        pictures = [f.to_ndarray(format="bgra") for p in c.demux(stream) for f in ctx.decode(p)]
    assert len(pictures) == 5
    inside, outside = pictures[2][25:65, 35:85], np.concatenate(
        [pictures[2][:15].reshape(-1, 4), pictures[2][75:].reshape(-1, 4)])
    assert inside[..., 3].min() >= 250 and outside[:, 3].max() <= 5
    colours = np.abs(inside[..., :3].astype(int) - synthetic_frame(2, H, W)[25:65, 35:85])
    assert colours.mean() < 6


def test_alpha_video_in_a_format_without_alpha_is_refused(tmp_path):
    with pytest.raises(OutputError, match="cannot keep transparency"):
        VideoFileSink(tmp_path / "a.mp4", W, H, Fraction(1, 1000), Fraction(25), alpha=True)
    assert not list(tmp_path.iterdir())
