"""Video and image I/O: true timestamps, audio carried over, odd pictures, damaged files."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from livesegment.core.models.device import encoder_threads
from livesegment.errors import InputError, OutputError
from livesegment.io.images import as_bgr8, read_image
from livesegment.io.paths import check_output
from livesegment.io.timestamps import TimestampReorder
from livesegment.io.video import VideoFileSink, VideoFileSource
from tests.conftest import FOOTAGE, make_clip, needs_footage, read_clip, synthetic_frame


@pytest.mark.parametrize(("window", "pts", "dts", "expected"), [
    (8, [0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3]),                 # well-behaved
    (8, [2, 6, 8, 10, 12, 4, 16, 18, 20, 22, 14],                  # AVI with B-frames
     [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22], [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22]),
    (8, [None, None, None], [0, 3, 6], [0, 3, 6]),                 # no pts: dts
    (8, [None, None, None], [None, None, None], [0, 1, 2]),        # nothing: one step each
    (8, [0, 40, 40, 120], [None] * 4, [0, 40, 80, 120]),           # a repeat is pushed forward
    (2, [0, 40, 80, 0], [None] * 4, [0, 40, 80, 120]),             # a time already past: ignored
])
def test_timestamp_reorder(window, pts, dts, expected):
    reorder = TimestampReorder(window=window)
    out = []
    for i, (p, d) in enumerate(zip(pts, dts)):
        out += list(reorder.push(i, p, d))
    out += list(reorder.flush())
    assert [item for item, _ in out] == list(range(len(pts)))  # display order kept
    assert [t for _, t in out] == expected


@needs_footage()
def test_shared_footage_has_341_frames_40ms_apart():
    """The container claims 50 fps and 682 frames; the pictures are 40 ms apart."""
    source = VideoFileSource(FOOTAGE)
    times = [f.pts_s for f in source.frames()]
    steps = np.round(np.diff(times), 3)
    assert len(times) == 341 and source.unreadable == 0
    assert times[0] == 0.0 and source.origin_s == pytest.approx(0.04)  # timed from the first
    assert (steps == 0.04).sum() == 339 and steps.min() > 0


def test_variable_frame_rate_survives_a_round_trip(tmp_path):
    times = [0.0, 0.04, 0.08, 0.2, 0.24, 0.5, 0.54, 0.58]  # gaps, as a phone records
    src = tmp_path / "vfr.mp4"
    make_clip(src, times_s=times)
    reader = VideoFileSource(src)
    frames = list(reader.frames())
    assert [round(f.pts_s, 3) for f in frames] == times
    out = tmp_path / "out.mp4"
    sink = VideoFileSink(out, reader.width, reader.height, reader.time_base, reader.rate_hint)
    for f in frames:
        sink.write(f.bgr, f.pts_s)
    assert sink.finish() == out
    got, pictures = read_clip(out)
    assert [round(t, 3) for t in got] == times
    assert pictures[0].shape == (96, 128, 3)


@pytest.mark.parametrize("complete", [True, False])
@pytest.mark.parametrize("threads", [1, 0])
def test_every_frame_comes_out_whatever_the_encoder_threads(tmp_path, threads, complete):
    """x264 with its own threads holds frames back for its frame-parallel encoders; finishing,
    or stopping half-way, must still flush every written frame with its timestamp."""
    times = [i * 0.04 for i in range(30)] + [1.5, 1.54]  # a gap, as a pause in a recording
    sink = VideoFileSink(tmp_path / "out.mp4", 128, 96, Fraction(1, 1000), Fraction(25),
                         threads=threads)
    for i, t in enumerate(times):
        sink.write(synthetic_frame(i, 96, 128), t)
    written = sink.finish(complete=complete)
    assert written.name == ("out.mp4" if complete else "out.partial.mp4")
    got, pictures = read_clip(written)
    assert [round(t, 3) for t in got] == [round(t, 3) for t in times]
    assert np.abs(pictures[-1].astype(int) - synthetic_frame(31, 96, 128)).mean() < 3


def test_offline_output_encodes_on_more_threads_only_when_the_model_leaves_the_cpu():
    assert encoder_threads(torch.device("cpu")) == 1
    assert encoder_threads(torch.device("cuda")) == 0  # x264 picks; the cores are free


@pytest.mark.parametrize(("suffix", "audio_codec", "mode"), [
    (".mp4", "aac", "copied"),
    (".mkv", "pcm_s16le", "re-encoded to AAC"),   # PCM does not belong in an MP4
])
def test_audio_is_carried_into_mp4(tmp_path, suffix, audio_codec, mode):
    src = tmp_path / f"tone{suffix}"
    make_clip(src, frames=25, tone_hz=440, audio_codec=audio_codec)
    reader = VideoFileSource(src, audio=True)
    out = tmp_path / "out.mp4"
    sink = VideoFileSink(out, reader.width, reader.height, reader.time_base, reader.rate_hint,
                         audio_from=reader)
    for f in reader.frames():
        sink.write(f.bgr, f.pts_s)
    sink.finish()
    assert sink.audio_mode == mode
    with av.open(str(out)) as c:
        audio = c.streams.audio[0]
        samples = np.concatenate([fr.to_ndarray()[0] for fr in c.decode(audio)])  # channel 0
    assert audio.codec_context.name == "aac"
    assert len(samples) >= 0.9 * 48000  # as long as the pictures (25 frames, 1 s)
    spectrum = np.abs(np.fft.rfft(samples[:24000]))
    peak_hz = np.argmax(spectrum) * 48000 / 24000
    assert abs(peak_hz - 440) < 5  # it is still the tone


@pytest.mark.parametrize(("size", "padded"), [((5, 7), (6, 8)), ((9, 16), (10, 16)),
                                              ((1, 1), (2, 2)), ((8, 6), (8, 6))])
def test_odd_sizes_are_padded_to_playable_420(tmp_path, size, padded):
    """4:2:0 (what browsers and QuickTime play) needs even sizes: an odd one gets its last
    column/row repeated; the source's pixels are all there, unscaled."""
    out = tmp_path / "odd.mp4"
    sink = VideoFileSink(out, size[1], size[0], Fraction(1, 25), Fraction(25), crf=0)
    for i in range(3):
        sink.write(synthetic_frame(i, *size), i / 25)
    sink.finish()
    times, pictures = read_clip(out)
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"
    assert len(pictures) == 3 and pictures[0].shape[:2] == padded


@pytest.mark.parametrize("size", [(64, 96), (63, 95)], ids=["even", "odd-padded"])
def test_colours_survive_the_encoder(tmp_path, size):
    """Flat patches of the VOC palette come back within a few grey levels (colour matrix and
    range agree between our writer and FFmpeg's reader)."""
    patches = [(0, 0, 128), (0, 128, 0), (128, 128, 192), (255, 255, 255), (20, 40, 60),
               (192, 128, 0)]
    bgr = np.zeros((*size, 3), np.uint8)
    width = size[1] // len(patches)
    for i, colour in enumerate(patches):
        bgr[:, i * width:(i + 1) * width] = colour
    out = tmp_path / "colours.mp4"
    sink = VideoFileSink(out, size[1], size[0], Fraction(1, 25), Fraction(25), crf=0)
    sink.write(bgr, 0.0)
    sink.finish()
    _, (picture,) = read_clip(out)
    for i, colour in enumerate(patches):  # the patch centres, away from chroma blur at edges
        centre = picture[size[0] // 2, i * width + width // 2].astype(int)
        assert np.abs(centre - colour).max() <= 3, (colour, centre)


def test_truncated_file_yields_what_it_can(tmp_path):
    src = tmp_path / "full.mkv"   # Matroska keeps its index at the front: truncation is partial
    make_clip(src, frames=60)
    data = src.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 2 // 3])
    frames = list(VideoFileSource(cut).frames())
    assert 10 < len(frames) < 60


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d / "absent.mp4", "input not found"),
    (lambda d: d, "input is a directory"),
    (lambda d: (d / "notes.mp4").write_text("hello, not a video") and d / "notes.mp4",
     "cannot read video"),
])
def test_unreadable_videos_are_input_errors(tmp_path, make, message):
    with pytest.raises(InputError, match=message):
        VideoFileSource(make(tmp_path))


@pytest.mark.parametrize(("picture", "shape"), [
    (np.zeros((7, 5), np.uint8), (7, 5, 3)),                       # grey
    (np.full((4, 4), 65535, np.uint16), (4, 4, 3)),                # 16-bit
    (np.zeros((3, 3, 4), np.uint8), (3, 3, 3)),                    # RGBA
    (np.ones((2, 2, 3), np.float32), (2, 2, 3)),                   # float
    (np.zeros((1, 1, 3), np.uint8), (1, 1, 3)),
])
def test_any_picture_becomes_bgr8(picture, shape):
    out = as_bgr8(picture)
    assert out.shape == shape and out.dtype == np.uint8


def test_sixteen_bit_png_keeps_its_brightness(tmp_path):
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), np.full((6, 6), 40000, np.uint16))
    assert read_image(path)[0, 0, 0] == 40000 >> 8


def test_image_that_does_not_decode(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    with pytest.raises(InputError, match="cannot decode image .*broken.png"):
        read_image(path)


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: (d / "in.mp4", d / "in.mp4"), "is the input file"),
    (lambda d: (d / "in.mp4", d / "missing" / "out.mp4"), "folder .*missing does not exist"),
    (lambda d: (d / "in.mp4", d), "is a directory"),
    (lambda d: (d / "in.mp4", Path("/proc/out.mp4")), "is not writable"),
])
def test_output_checks(tmp_path, make, message):
    (tmp_path / "in.mp4").write_bytes(b"x")
    source, output = make(tmp_path)
    with pytest.raises(OutputError, match=message):
        check_output(output, (source,))
    assert (tmp_path / "in.mp4").read_bytes() == b"x"


def test_same_file_through_a_symlink_is_refused(tmp_path):
    (tmp_path / "in.mp4").write_bytes(b"x")
    (tmp_path / "alias.mp4").symlink_to(tmp_path / "in.mp4")
    with pytest.raises(OutputError, match="is the input file"):
        check_output(tmp_path / "alias.mp4", (tmp_path / "in.mp4",))
