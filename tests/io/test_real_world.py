"""Issue 13: the files users actually have, each class of problem from a generated file.

Every test runs the real job (``process_file``) or the io classes on tiny clips, with the
stand-in red-is-person model, so pictures, masks, timestamps and audio offsets are exact.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from livesegment.core.compose.overlay import OverlayStyle
from livesegment.core.models.zoo import get_spec
from livesegment.errors import InputError, OutputError, av_reason, describe
from livesegment.io.images import (MaskSink, animated_frames, check_mask_folder, read_image,
                                   upright)
from livesegment.io.paths import NAME_MAX, ffmpeg_name, interrupted_path, partial_path
from livesegment.io.video import AUDIO_RULES, VideoFileSource, audio_plan
from livesegment.pipeline.job import process_file
from tests.conftest import PERSON, fake_segmenter, read_clip
from tests.real_world_media import (animated_picture, asymmetric_frame, audio_offset,
                                    exif_photo, tone_onset, write_video)

AAC_FRAME_S = 1024 / 48000  # players and demuxers differ by at most one priming frame


def _style(opacity: float = 0.0) -> OverlayStyle:
    spec = get_spec("espnetv2-voc")
    return OverlayStyle(spec.palette, spec.background, opacity)


def _run(src: Path, out: Path, masks: Path | None = None, **kw):
    return process_file(src, out, fake_segmenter(), _style(), masks, **kw)


def _tone_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum) * rate / len(samples))


def _audio_tracks(path: Path) -> list[tuple[str, int, float, float]]:
    """(codec, rate, seconds, tone Hz) of each audio track of ``path``."""
    tracks = []
    with av.open(str(path)) as c:
        for stream in c.streams.audio:
            samples = np.concatenate([f.to_ndarray().reshape(f.samples, -1)[:, 0]
                                      if f.format.is_packed else f.to_ndarray()[0]
                                      for f in c.decode(stream)])
            rate = stream.codec_context.sample_rate
            tracks.append((stream.codec_context.name, rate, len(samples) / rate,
                           _tone_hz(samples.astype(float), rate)))
            c.seek(0)
    return tracks


# --- pictures as a player shows them -------------------------------------------------------

@pytest.mark.parametrize("rotation", [-90, 90, 180])
def test_rotated_phone_video_comes_out_upright_with_matching_masks(tmp_path, rotation):
    """A display matrix (as phones write) is applied to the pixels: the output and the masks are
    the picture as a player shows it, and the overlay sits on the object it marks."""
    src = write_video(tmp_path / "phone.mp4", frames=4, size=(48, 64), rotation=rotation)
    out, masks = tmp_path / "out.mp4", tmp_path / "m"
    report = _run(src, out, masks)
    _, pictures = read_clip(out)
    turns = rotation // 90
    expected = np.rot90(asymmetric_frame(0, 48, 64), turns)  # counter-clockwise, as FFmpeg
    assert pictures[0].shape == expected.shape and (report.width, report.height) == (
        expected.shape[1], expected.shape[0])
    assert np.abs(pictures[0].astype(int) - expected).mean() < 4
    with av.open(str(out)) as c:  # no rotation left for a player to apply a second time
        assert next(c.decode(video=0)).rotation == 0
    mask = cv2.imread(str(masks / "000000.png"), cv2.IMREAD_UNCHANGED)
    red = (expected[:, :, 2] > 200) & (expected[:, :, 1] < 60)
    assert mask.shape == expected.shape[:2]
    assert (mask[red] == PERSON).mean() > 0.9 and (mask[~red] == PERSON).mean() < 0.1


@pytest.mark.parametrize(("rotation", "hflip", "vflip"), [
    (0, True, False), (0, False, True), (90, True, False), (-90, True, False),
    (180, True, False), (90, False, True), (0, False, False),
])
def test_mirrored_display_matrices_are_shown_as_players_do(tmp_path, rotation, hflip, vflip):
    """Front-camera recordings may carry mirror flags: PyAV documents the matrix as a counter-
    clockwise turn, then the mirrors; a pure mirror must not be read as a half turn."""
    src = tmp_path / "mirror.mp4"
    with av.open(str(src), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"crf": "12", "preset": "ultrafast"}
        stream.set_display_rotation(rotation, hflip=hflip, vflip=vflip)
        frame = av.VideoFrame.from_ndarray(asymmetric_frame(0, 48, 64), format="bgr24")
        frame.pts = 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    expected = np.rot90(asymmetric_frame(0, 48, 64), rotation // 90)
    expected = expected[:, ::-1] if hflip else expected
    expected = expected[::-1] if vflip else expected
    (frame,) = VideoFileSource(src).frames()
    assert frame.bgr.shape == expected.shape
    assert np.abs(frame.bgr.astype(int) - expected).mean() < 4


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_exif_orientation_is_read_as_viewers_show_it(tmp_path, suffix, orientation):
    """Pillow's exif_transpose is the reference viewer; JPEG/PNG (eXIf)/WebP alike."""
    from PIL import Image, ImageOps

    path = tmp_path / f"photo{suffix}"
    exif_photo(path, orientation)
    with Image.open(path) as image:
        shown = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))[:, :, ::-1]
    got = read_image(path)
    assert got.shape == shown.shape
    assert np.abs(got.astype(int) - shown).max() <= (0 if suffix != ".jpg" else 40)


def test_upright_is_the_inverse_of_each_exif_transform():
    stored = np.arange(6, dtype=np.uint8).reshape(2, 3)
    results = {o: upright(stored, o).tolist() for o in range(1, 9)}
    assert results[1] == [[0, 1, 2], [3, 4, 5]]
    assert results[3] == [[5, 4, 3], [2, 1, 0]]
    assert results[6] == [[3, 0], [4, 1], [5, 2]]  # 90 degrees clockwise
    assert results[8] == [[2, 5], [1, 4], [0, 3]]  # 90 degrees counter-clockwise
    assert len({str(r) for r in results.values()}) == 8


@pytest.mark.parametrize("sar", [Fraction(4, 3), Fraction(8, 9), Fraction(12, 11)])
def test_non_square_pixels_keep_the_display_size(tmp_path, sar):
    """DV/DVD/3GP pixel shapes are carried over, so players show the source's display size."""
    src = write_video(tmp_path / "dv.mp4", frames=3, size=(48, 64), sar=sar)
    out = tmp_path / "out.mp4"
    _run(src, out)
    with av.open(str(src)) as a, av.open(str(out)) as b:
        sa, sb = a.streams.video[0], b.streams.video[0]
        assert sb.sample_aspect_ratio == sar
        assert sb.display_aspect_ratio == sa.display_aspect_ratio
        assert (sb.codec_context.width, sb.codec_context.height) == (64, 48)


@pytest.mark.parametrize("size", [(47, 63), (48, 63), (47, 64)])
def test_odd_sized_video_is_written_as_420_that_plays_everywhere(tmp_path, size):
    src = write_video(tmp_path / "odd.mkv", frames=3, size=size, codec="ffv1", pix_fmt="yuv444p")
    out, masks = tmp_path / "out.mp4", tmp_path / "m"
    _run(src, out, masks)
    with av.open(str(out)) as c:
        ctx = c.streams.video[0].codec_context
        assert (ctx.pix_fmt, ctx.height, ctx.width) == ("yuv420p", size[0] + size[0] % 2,
                                                       size[1] + size[1] % 2)
    _, pictures = read_clip(out)
    source = asymmetric_frame(0, *size)
    assert np.abs(pictures[0][:size[0], :size[1]].astype(int) - source).mean() < 4
    assert cv2.imread(str(masks / "000000.png"), cv2.IMREAD_UNCHANGED).shape == size


# --- timing and audio ----------------------------------------------------------------------

@pytest.mark.parametrize(("name", "fmt", "video_s", "audio_s", "codec"), [
    ("ts-late-audio.ts", "mpegts", 1.4, 1.7, "mp2"),    # transcoded
    ("ts-early-audio.ts", "mpegts", 1.4, 1.2, "aac"),   # copied; the sound starts first
    ("delayed.mkv", None, 0.0, 0.3, "aac"),
    ("early.mkv", None, 0.2, 0.0, "libopus"),
])
def test_audio_keeps_its_offset_to_the_first_picture(tmp_path, name, fmt, video_s, audio_s,
                                                     codec):
    src = write_video(tmp_path / name, frames=25, start_s=video_s, fmt=fmt,
                      audio=[dict(codec=codec, start_s=audio_s, seconds=0.8)])
    out = tmp_path / "out.mp4"
    report = _run(src, out)
    before, after = tone_onset(src), tone_onset(out)  # what a listener hears
    assert before == pytest.approx(audio_s - video_s, abs=0.003)  # the file is as meant
    assert after == pytest.approx(before, abs=0.003)
    # and the first audio frame a player decodes, within one AAC frame of priming
    assert abs(audio_offset(out) - audio_offset(src)) <= AAC_FRAME_S + 0.005
    assert report.duration_s == pytest.approx(24 / 25, abs=1e-3)  # from the first picture
    # sound first: the pictures start that much later, as no container takes negative times
    assert read_clip(out)[0][0] == pytest.approx(max(0.0, -audio_offset(src)),
                                                 abs=AAC_FRAME_S + 0.005)


@pytest.mark.parametrize(("codec", "mode"), [("mp2", "re-encoded to AAC"), ("aac", "copied")])
def test_sound_after_a_dropout_keeps_its_time(tmp_path, codec, mode):
    """A recording whose sound stops for 0.4 s (signal loss) and resumes: the sound after the
    hole is heard when it was recorded, not 0.4 s early."""
    src = write_video(tmp_path / "dropout.ts", frames=40, start_s=1.4, fmt="mpegts",
                      audio=[dict(codec=codec, start_s=1.4, seconds=1.0, hole_s=0.4)])
    out = tmp_path / "out.mp4"
    assert _run(src, out).audio == mode
    resumed_in = tone_onset(src, after_s=0.6)
    assert resumed_in == pytest.approx(0.9, abs=0.03)  # 0.5 s of tone, then a 0.4 s hole
    assert tone_onset(out, after_s=0.6) == pytest.approx(resumed_in, abs=0.005)


@pytest.mark.parametrize("codec", ["aac", "mp2"])
def test_joined_ts_recordings_whose_clock_resets_are_written_whole(tmp_path, codec):
    a = write_video(tmp_path / "a.ts", frames=25, start_s=1.4, fmt="mpegts",
                    audio=[dict(codec=codec, start_s=1.4, seconds=1.0)])
    b = write_video(tmp_path / "b.ts", frames=12, start_s=1.4, fmt="mpegts",
                    audio=[dict(codec=codec, start_s=1.4, seconds=0.48)])
    joined = tmp_path / "joined.ts"
    joined.write_bytes(a.read_bytes() + b.read_bytes())
    out = tmp_path / "out.mp4"
    report = _run(joined, out)
    times, pictures = read_clip(out)
    assert len(pictures) == 37 and np.all(np.diff(times) > 0)
    ((_, _, seconds, hz),) = _audio_tracks(out)
    assert seconds == pytest.approx(1.48, abs=0.1) and abs(hz - 440) < 5
    assert report.frames == 37


@pytest.mark.parametrize(("audio", "suffix", "codec", "rate", "mode"), [
    (dict(codec="libopus", layout="stereo"), ".mov", "aac", 48000, "re-encoded to AAC"),
    (dict(codec="flac", layout="stereo"), ".mov", "aac", 48000, "re-encoded to AAC"),
    (dict(codec="pcm_s16le", rate=192000, layout="stereo"), ".mp4", "aac", 48000,
     "re-encoded to AAC"),
    (dict(codec="pcm_s16le", layout=None, channels=2), ".mp4", "aac", 48000,
     "re-encoded to AAC"),
    (dict(codec="pcm_s24le", rate=96000, layout="5.1"), ".mp4", "aac", 96000,
     "re-encoded to AAC"),
    (dict(codec="pcm_s16le", rate=44100, layout="stereo"), ".mov", "pcm_s16le", 44100,
     "copied"),
    (dict(codec="libopus", layout="stereo"), ".mkv", "opus", 48000, "copied"),
])
def test_audio_the_container_cannot_hold_is_transcoded_not_refused(tmp_path, audio, suffix,
                                                                   codec, rate, mode):
    src = write_video(tmp_path / "src.mkv", frames=25, audio=[{**audio, "seconds": 1.0}])
    out = tmp_path / f"out{suffix}"
    report = _run(src, out)
    assert report.audio == mode
    ((got_codec, got_rate, seconds, hz),) = _audio_tracks(out)
    assert (got_codec, got_rate) == (codec, rate)
    assert seconds == pytest.approx(1.0, abs=0.06) and abs(hz - 440) < 5


@pytest.mark.parametrize(("container", "codec", "plan"), [
    ("mp4", "aac", "copy"), ("mp4", "pcm_s16le", "aac"), ("mov", "opus", "aac"),
    ("mov", "flac", "aac"), ("mov", "pcm_s24le", "copy"), ("matroska", "flac", "copy"),
    ("webm", "aac", "libopus"), ("webm", "opus", "copy"), ("gif", "aac", None),
    ("mp4", "opus", "copy"),
])
def test_audio_plan_is_chosen_by_the_output_container(container, codec, plan):
    muxable = {"aac", "pcm_s16le", "pcm_s24le", "flac", "opus", "mp3", "vorbis"}
    assert audio_plan(container, codec, muxable) == plan
    assert container in AUDIO_RULES


def test_every_audio_track_is_kept_and_subtitles_are_dropped_with_a_word(tmp_path):
    src = write_video(tmp_path / "film.mkv", frames=25, subtitle=True,
                      audio=[dict(codec="aac", hz=440, seconds=1.0),
                             dict(codec="libopus", hz=880, seconds=1.0, layout="stereo")])
    out = tmp_path / "out.mp4"
    report = _run(src, out)
    tracks = _audio_tracks(out)
    assert [t[0] for t in tracks] == ["aac", "opus"]
    assert [round(t[3] / 10) * 10 for t in tracks] == [440, 880]
    assert report.notes == ("dropped subtitle (srt): the output keeps only picture and sound",)
    with av.open(str(out)) as c:
        assert not c.streams.subtitles


def test_a_track_that_cannot_be_carried_is_dropped_with_a_word_not_fatal(tmp_path,
                                                                        monkeypatch):
    src = write_video(tmp_path / "two.mkv", frames=12,
                      audio=[dict(codec="pcm_s16le", layout="stereo"), dict(codec="aac")])
    real = audio_plan
    monkeypatch.setattr("livesegment.io.video.audio.audio_plan", lambda c, codec, m: (
        "no_such_encoder" if codec == "pcm_s16le" else real(c, codec, m)))
    report = _run(src, tmp_path / "o.mp4")
    assert report.frames == 12 and report.audio == "copied"
    (note,) = report.notes
    assert note.startswith("dropped audio track 1 (pcm_s16le): ")
    assert [t[0] for t in _audio_tracks(tmp_path / "o.mp4")] == ["aac"]


def test_progress_counts_from_the_start_of_the_video(tmp_path):
    src = write_video(tmp_path / "late.ts", frames=25, start_s=1.4, fmt="mpegts")
    seen = []
    report = process_file(src, tmp_path / "o.mp4", fake_segmenter(), _style(),
                          on_progress=seen.append)
    assert seen[0].media_s == 0.0 and seen[-1].media_s == pytest.approx(0.96, abs=1e-3)
    assert report.duration_s == pytest.approx(0.96, abs=1e-3)


# --- animated pictures ---------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".png", ".gif", ".webp"])
def test_animated_picture_into_a_video_processes_every_frame(tmp_path, suffix):
    src = animated_picture(tmp_path / f"anim{suffix}", frames=5)  # 80 ms per frame
    out, masks = tmp_path / "out.mp4", tmp_path / "m"
    report = _run(src, out, masks)
    times, pictures = read_clip(out)
    assert report.frames == 5 and len(pictures) == 5
    assert np.diff(times) == pytest.approx([0.08] * 4, abs=0.011)  # GIF counts centiseconds
    for i in (0, 4):
        assert np.abs(pictures[i].astype(int) - asymmetric_frame(i, 48, 64)).mean() < 4
    assert len(list(masks.glob("*.png"))) == 5


@pytest.mark.parametrize(("suffix", "output", "error", "message"), [
    (".png", "out.png", OutputError, "is an animated picture (5 frames); give a video output"),
    (".webp", "out.png", OutputError, "is an animated picture (5 frames); give a video output"),
])
def test_animated_picture_is_never_cut_to_one_frame_silently(tmp_path, suffix, output, error,
                                                             message):
    src = animated_picture(tmp_path / f"anim{suffix}", frames=5)
    assert animated_frames(src) == 5
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        _run(src, tmp_path / output)
    assert not (tmp_path / output).exists()


def test_a_still_png_is_not_animated(tmp_path):
    path = tmp_path / "still.png"
    cv2.imwrite(str(path), asymmetric_frame(0, 8, 8))
    assert animated_frames(path) == 1


# --- names, pipes and files ----------------------------------------------------------------

@pytest.mark.parametrize(("path", "name"), [
    (Path("10:30.mp4"), "file:10:30.mp4"),
    (Path("/v/rtmp:x.mkv"), "file:/v/rtmp:x.mkv"),
    (Path("-"), "pipe:0"),
    (Path(os.fsdecode(b"caf\xe9.mp4")), None),  # not UTF-8: opened through Python instead
])
def test_ffmpeg_is_given_local_file_names(path, name):
    assert ffmpeg_name(path) == name


@pytest.mark.parametrize("stem", ["x" * 200, "x" * 251, "é" * 125, "a" * 30])
def test_temporary_names_stay_within_name_max(stem):
    final = Path("/out") / f"{stem}.mp4"
    for made in (partial_path(final), partial_path(final, "probe"), interrupted_path(final)):
        assert len(os.fsencode(made.name)) <= NAME_MAX and made.suffix == ".mp4"
        assert made.parent == final.parent and made != final
    assert partial_path(final).name.startswith(".")


@pytest.mark.parametrize("name", ["10:30.mp4", "x" * 246 + ".mp4", "-clip.mp4",
                                  os.fsdecode(b"caf\xe9 \xff.mkv")])
def test_awkward_names_are_read_and_written(tmp_path, name):
    src = write_video(tmp_path / name, frames=3, audio=[dict(codec="aac", seconds=0.12)])
    out, masks = tmp_path / f"o{name[1:]}", tmp_path / f"m{name[1:]}"
    report = _run(src, out, masks)
    assert report.frames == 3 and report.audio == "copied"
    with open(out, "rb") as f, av.open(f) as c:  # a Python file: any name
        assert sum(1 for _ in c.decode(video=0)) == 3
    assert sorted(p.name for p in masks.iterdir()) == ["000000.png", "000001.png", "000002.png"]
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_a_fifo_is_read_once_with_its_audio(tmp_path):
    import threading

    src = write_video(tmp_path / "src.mkv", frames=12, audio=[dict(codec="aac")])
    fifo = tmp_path / "stream.mkv"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as f:
            f.write(src.read_bytes())

    writer = threading.Thread(target=feed)
    writer.start()
    out = tmp_path / "out.mp4"
    report = _run(fifo, out)
    writer.join(timeout=10)
    assert not writer.is_alive()
    assert report.frames == 12 and report.audio == "copied"
    assert tone_onset(out) == pytest.approx(tone_onset(src), abs=0.003)


def test_standard_input_from_a_terminal_is_refused_not_waited_on(monkeypatch, tmp_path):
    class Terminal:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal())
    with pytest.raises(InputError, match="standard input, which is a terminal here; pipe"):
        _run(Path("-"), tmp_path / "o.mp4")


@pytest.mark.parametrize(("entries", "inputs", "overwrite", "message"), [
    ([], (), False, None),
    (["000000.png"], ("000000.png",), True, "holds the input 000000.png"),
    (["notes.txt"], (), False, "is not empty \\(1 entries\\)"),
    (["000000.png", "000001.png"], (), False, "add --overwrite"),
    (["000000.png", "notes.txt"], (), True, None),
    (["000000.png"], ("other.png",), False, "is not empty"),
])
def test_mask_folder_checks(tmp_path, entries, inputs, overwrite, message):
    folder = tmp_path / "m"
    folder.mkdir()
    for name in entries:
        (folder / name).write_bytes(b"x")
    sources = tuple(folder / n for n in inputs)
    if message is None:
        check_mask_folder(folder, sources, overwrite)
    else:
        with pytest.raises(OutputError, match=message):
            check_mask_folder(folder, sources, overwrite)


def test_overwriting_a_longer_runs_masks_leaves_no_stale_ones(tmp_path):
    masks = tmp_path / "m"
    long_clip = write_video(tmp_path / "long.mp4", frames=8)
    short = write_video(tmp_path / "short.mp4", frames=3)
    _run(long_clip, tmp_path / "a.mp4", masks)
    (masks / "keep.txt").write_text("the user's")
    with pytest.raises(OutputError, match="not empty"):
        _run(short, tmp_path / "b.mp4", masks)
    _run(short, tmp_path / "b.mp4", masks, overwrite=True)
    assert sorted(p.name for p in masks.iterdir()) == ["000000.png", "000001.png",
                                                       "000002.png", "keep.txt"]


def test_a_mask_that_cannot_be_written_whole_is_an_error_and_leaves_nothing(tmp_path,
                                                                           monkeypatch):
    sink = MaskSink(tmp_path / "m")
    real_open = open

    def short_write(path, mode="r", *a, **k):
        f = real_open(path, mode, *a, **k)
        if "w" in mode:
            write = f.write
            f.write = lambda data: write(data[: len(data) // 2])  # a disk that fills up
        return f

    monkeypatch.setattr("builtins.open", short_write)
    with pytest.raises(OutputError, match="cannot write mask .*000000.png: No space left"):
        sink.write(0, np.zeros((8, 8), np.uint8))
    assert list((tmp_path / "m").iterdir()) == [] and sink.written == 0


@pytest.mark.parametrize(("make", "words"), [
    (lambda: av.open("10:30.mp4"), "Protocol not found"),
    (lambda: av.open("/nonexistent/x.mp4"), "No such file or directory"),
    (lambda: (_ for _ in ()).throw(OSError(27, "File too large", "/x/o.mp4")), "File too large"),
])
def test_ffmpeg_error_numbers_never_reach_the_user(make, words):
    with pytest.raises(Exception) as caught:  # noqa: PT011 - FFmpeg's and the OS's alike
        make()
    assert av_reason(caught.value) == words
    assert "[Errno" not in describe(caught.value) and words in describe(caught.value)


def test_an_unreadable_url_like_name_is_a_plain_input_error(tmp_path):
    bad = tmp_path / "12:00.mp4"
    bad.write_text("not a video")
    with pytest.raises(InputError) as caught:
        VideoFileSource(bad)
    assert "[Errno" not in str(caught.value) and "Invalid data found" in str(caught.value)
