"""``livesegment process --effect ...`` end to end on tiny generated clips: the pictures that
come out, the alpha formats, and one-line errors for bad backgrounds, colours and formats."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from livesegment.cli import main
from livesegment.core.segmenter import Segmenter
from tests.conftest import SHARED, fake_segmenter, make_clip, read_clip, synthetic_frame

GIF = SHARED / "media" / "head-pose-face-detection-female-and-male.gif"
H, W = 96, 128

# The fake model paints exact squares and these tests check them pixel for pixel: the temporal
# smoothing and edge refinement that are on by default are tested on their own.
EXACT = ["--smoothing", "0", "--no-refine"]


@pytest.fixture
def red_is_person(monkeypatch):
    """The CLI with the fake model: the red square is the person, exactly."""
    monkeypatch.setattr(Segmenter, "create", classmethod(lambda cls, *a, **k: fake_segmenter()))


def _square(index: int) -> np.ndarray:
    frame = synthetic_frame(index, H, W)
    return (frame[..., 2] == 255) & (frame[..., 0] == 0)


def test_color_effect_keeps_the_person_and_paints_the_rest(tmp_path, red_is_person):
    src, out = tmp_path / "in.mp4", tmp_path / "out.mp4"
    make_clip(src, frames=6, size=(H, W))
    assert main(["process", str(src), "-o", str(out), "--quiet", *EXACT, "--effect", "color",
                 "--background", "#00ff00"]) == 0
    _, pictures = read_clip(out)
    assert len(pictures) == 6
    person = _square(3)
    inner = cv2.erode(person.astype(np.uint8), np.ones((5, 5))).astype(bool)
    outer = ~cv2.dilate(person.astype(np.uint8), np.ones((5, 5))).astype(bool)
    assert np.abs(pictures[3][inner].astype(int) - (0, 0, 255)).max() < 30  # still red
    assert np.abs(pictures[3][outer].astype(int) - (0, 255, 0)).max() < 30  # green screen


def test_replace_with_a_video_background_and_alpha_still(tmp_path, red_is_person):
    bg = tmp_path / "bg.mp4"
    make_clip(bg, frames=4, size=(48, 64))
    still = tmp_path / "in.png"
    cv2.imwrite(str(still), synthetic_frame(0, H, W))
    out = tmp_path / "out.png"
    assert main(["process", str(still), "-o", str(out), "--quiet", "--effect", "replace",
                 "--background", str(bg)]) == 0
    picture = cv2.imread(str(out))
    person = _square(0)
    assert np.array_equal(picture[person], synthetic_frame(0, H, W)[person])
    assert not np.array_equal(picture[~person], synthetic_frame(0, H, W)[~person])

    rgba = tmp_path / "cut.png"
    assert main(["process", str(still), "-o", str(rgba), "--quiet", *EXACT, "--effect",
                 "alpha"]) == 0
    cut = cv2.imread(str(rgba), cv2.IMREAD_UNCHANGED)
    assert cut.shape == (H, W, 4)
    assert (cut[person, 3] == 255).all() and (cut[~person, 3] == 0).all()


def test_alpha_video_keeps_transparency_and_sound_in_webm(tmp_path, red_is_person):
    src, out = tmp_path / "in.mp4", tmp_path / "cut.webm"
    make_clip(src, frames=5, size=(H, W), tone_hz=440)  # AAC, which WebM cannot carry
    assert main(["process", str(src), "-o", str(out), "--quiet", *EXACT, "--effect",
                 "alpha"]) == 0
    with av.open(str(out)) as c:
        audio = c.streams.audio[0]
        assert audio.codec_context.name == "opus"
        seconds = sum(f.samples for f in c.decode(audio)) / audio.codec_context.sample_rate
        assert 0.15 < seconds < 0.3  # the tone lasts as long as the 5 pictures (0.2 s)
    with av.open(str(out)) as c:
        ctx = av.CodecContext.create("libvpx-vp9", "r")
        frames = [f.to_ndarray(format="bgra") for p in c.demux(c.streams.video[0])
                  for f in ctx.decode(p)]
    assert len(frames) == 5
    person = cv2.erode(_square(2).astype(np.uint8), np.ones((5, 5))).astype(bool)
    far = ~cv2.dilate(_square(2).astype(np.uint8), np.ones((9, 9))).astype(bool)
    assert frames[2][person, 3].min() > 240 and frames[2][far, 3].max() < 15


def test_blur_then_overlay_chain_from_the_command_line(tmp_path, red_is_person):
    still, out = tmp_path / "in.png", tmp_path / "out.png"
    frame = synthetic_frame(0, H, W)
    cv2.imwrite(str(still), frame)
    assert main(["process", str(still), "-o", str(out), "--quiet", "--effect", "blur,overlay",
                 "--blur-strength", "6", "--opacity", "1"]) == 0
    picture = cv2.imread(str(out))
    person = _square(0)
    assert (picture[person] == (128, 128, 192)).all()  # the overlay's person colour
    assert picture[~person].astype(float).std() < frame[~person].astype(float).std()


@pytest.mark.parametrize("args, message", [
    (["--effect", "replace"], "needs --background"),
    (["--effect", "replace", "--background", "nothere.jpg"], "background not found: nothere.jpg"),
    (["--effect", "color", "--background", "green"], "'green' is not #RRGGBB"),
    (["--effect", "blur", "--background", "#000000"], "replace and color effects only"),
    (["--effect", "alpha"], "cannot keep transparency"),
    (["--effect", "blur", "--feather", "-3"], "feather -3"),
    (["--effect", "blur", "--threshold", "2"], "threshold 2.0"),
    (["--effect", "blur", "--blur-strength", "0"], "--blur-strength 0.0 is outside 0..500"),
])
def test_effect_errors_are_one_line_exit_2(tmp_path, capsys, args, message):
    src = tmp_path / "in.mp4"
    make_clip(src, frames=2, size=(H, W))
    code = main(["process", str(src), "-o", str(tmp_path / "out.mp4"), "--quiet", *args])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == f"livesegment: {err.split(': ', 1)[1]}" and message in err
    assert "\n" not in err and not (tmp_path / "out.mp4").exists()


def test_unknown_effect_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["process", "in.mp4", "-o", str(tmp_path / "o.mp4"), "--effect", "blur,sparkle"])
    assert exit_.value.code == 2
    assert "unknown effect 'sparkle'" in capsys.readouterr().err


@pytest.mark.skipif(not GIF.is_file(), reason="../shared/media not present")
def test_real_model_blurs_around_real_people(tmp_path):
    """espnetv2-voc, person class, on a frame of the shared head-and-shoulders footage: the
    people are kept pixel for pixel, the wall behind them is smoothed."""
    with av.open(str(GIF)) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="bgr24")
    still, out, masks = tmp_path / "frame.png", tmp_path / "blur.png", tmp_path / "masks"
    cv2.imwrite(str(still), frame)
    assert main(["process", str(still), "-o", str(out), "--quiet", "--classes", "person",
                 "--effect", "blur", "--blur-strength", "10", "--masks", str(masks)]) == 0
    picture, labels = cv2.imread(str(out)), cv2.imread(str(masks / "000000.png"), 0)
    person = labels == 15
    assert 0.05 < person.mean() < 0.8
    assert np.array_equal(picture[person], frame[person])
    far = ~cv2.dilate(person.astype(np.uint8), np.ones((15, 15))).astype(bool)[:, 1:]
    assert np.abs(np.diff(picture.astype(int), axis=1))[far].mean() < \
        0.5 * np.abs(np.diff(frame.astype(int), axis=1))[far].mean()
