"""What ``process`` writes: formats, quality options, views, colour masks, stats, time ranges,
and what it reads besides files: an HTTP URL and a camera."""

from __future__ import annotations

import csv
import functools
import http.server
import json
import threading
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from livesegment.cli import main
from livesegment.core.segmenter import Segmenter
from livesegment.errors import OutputError
from livesegment.io.formats import encode_settings
from tests.conftest import PERSON, fake_segmenter, make_clip, read_clip, synthetic_frame

PERSON_BGR = (128, 128, 192)  # VOC person is (192, 128, 128) RGB

# The fake model paints exact squares and these tests check them pixel for pixel: the temporal
# smoothing and edge refinement that are on by default are tested on their own.
EXACT = ["--smoothing", "0", "--no-refine"]


@pytest.fixture
def fake_model(monkeypatch):
    """Red is person, exactly: these tests check pixels, ids and shares, not a network."""
    monkeypatch.setattr(Segmenter, "create", classmethod(lambda cls, *a, **k: fake_segmenter()))


def _codecs(path: Path) -> list[str]:
    with av.open(str(path)) as c:
        return [s.codec_context.name for s in c.streams]


@pytest.mark.parametrize(("suffix", "size", "codecs"), [
    (".webm", (96, 128), ["vp9", "opus"]),
    (".webm", (95, 127), ["vp9", "opus"]),  # odd sizes: 4:2:0, padded to 96x128
    (".gif", (96, 128), ["gif"]),  # GIF has no sound: the audio is left out
    (".mkv", (96, 128), ["h264", "aac"]),
])
def test_webm_and_gif_outputs_keep_every_frame_and_its_time(tmp_path, fake_model, suffix,
                                                            size, codecs):
    src = tmp_path / "tone.mkv"
    times = make_clip(src, frames=8, size=size, tone_hz=440, codec="ffv1")  # any size
    out = tmp_path / f"out{suffix}"
    assert main(["process", str(src), "-o", str(out), "--quiet"]) == 0
    got, pictures = read_clip(out)
    assert _codecs(out) == codecs
    even = tuple(side + side % 2 for side in size)  # 4:2:0 plays everywhere; odd sides padded
    assert len(pictures) == 8 and pictures[0].shape == (*even, 3)
    assert np.allclose(got, times, atol=0.011)  # GIF counts in hundredths


def test_gif_colours_stay_close_with_a_palette_per_frame(tmp_path, clip):
    """A per-frame palette keeps the colours; FFmpeg's fixed one was ~20 levels off."""
    from livesegment.io.gif import GifSink

    _, pictures = read_clip(clip)
    out = tmp_path / "o.gif"
    sink = GifSink(out, 128, 96, Fraction(1, 100), Fraction(25))
    for i, bgr in enumerate(pictures):
        sink.write(bgr, i * 0.04)
    sink.finish()
    _, back = read_clip(out)
    assert len(back) == len(pictures)
    assert max(np.abs(a.astype(int) - b).mean() for a, b in zip(back, pictures)) < 3


@pytest.mark.parametrize(("output", "codec", "crf", "message"), [
    ("o.mp4", "h264", None, "unknown codec 'h264' (choose from libx264"),
    ("o.webm", "libx264", None, "codec libx264 cannot go into a .webm file like o.webm"),
    ("o.mp4", None, 52, "--crf 52 is outside 0..51 for codec libx264"),
    ("o.webm", None, 64, "--crf 64 is outside 0..63 for codec libvpx-vp9"),
    ("o.mp4", "mpeg4", 20, "--crf does not apply to codec mpeg4"),
    ("o.flv", None, None, "'.flv' is not a video format we write"),
])
def test_codec_and_crf_are_checked_against_the_container(output, codec, crf, message):
    with pytest.raises(OutputError, match=message.replace("(", r"\(").replace(".", r"\.")):
        encode_settings(Path(output), codec, crf)


def test_a_bad_codec_choice_stops_before_the_model_loads(tmp_path, clip, capsys, monkeypatch):
    monkeypatch.setattr(Segmenter, "create", classmethod(lambda *a, **k: pytest.fail("loaded")))
    assert main(["process", str(clip), "-o", str(tmp_path / "o.mp4"), "--crf", "60"]) == 2
    assert capsys.readouterr().err == \
        "livesegment: --crf 60 is outside 0..51 for codec libx264\n"
    with pytest.raises(SystemExit):
        main(["process", str(clip), "-o", str(tmp_path / "o.mp4"), "--codec", "h264"])
    assert "invalid choice: 'h264'" in capsys.readouterr().err


def test_lower_crf_means_a_bigger_closer_file(tmp_path, clip, fake_model):
    sizes, errors = {}, {}
    _, source = read_clip(clip)
    for crf in ("10", "40"):
        out = tmp_path / f"crf{crf}.mp4"
        assert main(["process", str(clip), "-o", str(out), "--quiet", "--crf", crf,
                     "--opacity", "0"]) == 0
        sizes[crf] = out.stat().st_size
        errors[crf] = np.mean([np.abs(a.astype(int) - b).mean()
                               for a, b in zip(read_clip(out)[1], source)])
    assert sizes["10"] > 1.3 * sizes["40"] and errors["10"] < 0.7 * errors["40"]
    out = tmp_path / "x265.mkv"
    assert main(["process", str(clip), "-o", str(out), "--quiet", "--codec", "libx265"]) == 0
    assert _codecs(out) == ["hevc"]


def test_side_by_side_is_source_then_overlay(tmp_path, clip, fake_model):
    out = tmp_path / "sbs.png"
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), synthetic_frame(3, 96, 128))
    assert main(["process", str(src), "-o", str(out), "--quiet", "--view", "side-by-side",
                 "--opacity", "1"]) == 0
    picture = cv2.imread(str(out))
    assert picture.shape == (96, 256, 3)
    assert np.array_equal(picture[:, :128], cv2.imread(str(src)))
    red = (cv2.imread(str(src)) == (0, 0, 255)).all(2)
    assert np.array_equal(picture[:, 128:][red], np.tile(PERSON_BGR, (red.sum(), 1)))
    video = tmp_path / "sbs.mp4"
    assert main(["process", str(clip), "-o", str(video), "--quiet", "--view",
                 "side-by-side"]) == 0
    assert read_clip(video)[1][0].shape == (96, 256, 3)


def test_mask_view_shows_class_colours_on_black(tmp_path, fake_model):
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), synthetic_frame(3, 96, 128))
    out = tmp_path / "mask.png"
    assert main(["process", str(src), "-o", str(out), "--quiet", "--view", "mask"]) == 0
    picture = cv2.imread(str(out))
    red = (cv2.imread(str(src)) == (0, 0, 255)).all(2)
    assert (picture[red] == PERSON_BGR).all() and (picture[~red] == 0).all()


@pytest.mark.parametrize(("style", "shape"), [("ids", (96, 128)), ("color", (96, 128, 3))])
def test_masks_as_ids_or_colours(tmp_path, clip, fake_model, style, shape):
    masks = tmp_path / "m"
    assert main(["process", str(clip), "-o", str(tmp_path / "o.mp4"), "--quiet", *EXACT, "--masks",
                 str(masks), "--masks-style", style]) == 0
    files = sorted(masks.iterdir())
    assert len(files) == 12
    mask = cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED)
    red = (synthetic_frame(0, 96, 128) == (0, 0, 255)).all(2)
    assert mask.shape == shape
    if style == "ids":
        assert (mask[red] == PERSON).all() and (mask[~red] == 0).all()
    else:
        assert (mask[red] == PERSON_BGR).all() and (mask[~red] == 0).all()


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_stats_give_each_frames_time_and_class_shares(tmp_path, fake_model, suffix):
    src = tmp_path / "clip.mp4"
    times = make_clip(src, frames=5, times_s=[0.0, 0.04, 0.08, 0.2, 0.3])
    stats = tmp_path / f"shares{suffix}"
    assert main(["process", str(src), "-o", str(tmp_path / "o.mp4"), "--quiet", *EXACT, "--stats",
                 str(stats)]) == 0
    red_share = (synthetic_frame(0, 96, 128) == (0, 0, 255)).all(2).mean()
    if suffix == ".csv":
        with open(stats, newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0][:4] == ["frame", "time_s", "background", "aeroplane"]
        assert rows[0][2 + PERSON] == "person" and len(rows[0]) == 2 + 21
        frames = [(int(r[0]), float(r[1]), float(r[2 + PERSON]), float(r[2])) for r in rows[1:]]
    else:
        doc = json.loads(stats.read_text())
        assert doc["model"] == "espnetv2-voc" and len(doc["classes"]) == 21
        frames = [(f["frame"], f["time_s"], f["shares"]["person"], f["shares"]["background"])
                  for f in doc["frames"]]
    assert [f[0] for f in frames] == [0, 1, 2, 3, 4]
    assert np.allclose([f[1] for f in frames], times, atol=1e-3)
    assert frames[0][2] == pytest.approx(red_share, abs=1e-6)
    assert frames[0][2] + frames[0][3] == pytest.approx(1.0)
    assert not list(tmp_path.glob(".*partial*"))


def test_stats_needs_csv_or_json(tmp_path, clip, capsys):
    assert main(["process", str(clip), "-o", str(tmp_path / "o.mp4"), "--stats",
                 str(tmp_path / "s.txt")]) == 2
    assert "--stats" in capsys.readouterr().err


def _clip_with_onset(path: Path, seconds: float = 3.0, onset: float = 1.5, fps: int = 10):
    """10 fps pictures and silence that turns into a tone at ``onset``: audio sync is visible."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        vs.options = {"preset": "ultrafast", "g": "5"}
        au = out.add_stream("aac", rate=48000)
        au.layout = "mono"
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(synthetic_frame(i, 48, 64), format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        t = np.arange(int(48000 * seconds)) / 48000
        wave = np.where(t >= onset, 0.5 * np.sin(2 * np.pi * 440 * t), 0).astype(np.float32)
        for start in range(0, len(wave), 1024):
            chunk = av.AudioFrame.from_ndarray(wave[None, start:start + 1024], format="fltp",
                                               layout="mono")
            chunk.sample_rate, chunk.pts = 48000, start
            for packet in au.encode(chunk):
                out.mux(packet)
        for packet in au.encode(None):
            out.mux(packet)


def _sound_onset(path: Path) -> float:
    with av.open(str(path)) as c:
        for frame in c.decode(audio=0):
            loud = np.nonzero(np.abs(frame.to_ndarray()).max(0) > 0.1)[0]
            if loud.size:
                return float(frame.time) + loud[0] / frame.sample_rate
    raise AssertionError("no sound")


@pytest.fixture(scope="module")
def onset_clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("onset") / "onset.mp4"
    _clip_with_onset(path)
    return path


@pytest.mark.parametrize(("suffix", "args"), [
    (".mp4", ["--start", "1", "--end", "0:02"]),  # AAC copied, shifted
    (".webm", ["--start", "1", "--duration", "1"]),  # re-encoded to Opus
])
def test_a_time_range_starts_at_zero_with_its_sound_in_sync(tmp_path, fake_model, onset_clip,
                                                            suffix, args):
    out = tmp_path / f"cut{suffix}"
    assert main(["process", str(onset_clip), "-o", str(out), "--quiet", *EXACT, *args]) == 0
    times, pictures = read_clip(out)
    assert len(pictures) == 10  # source frames 10..19 (1.0 s .. 1.9 s)
    assert times[0] == 0.0 and times[-1] == pytest.approx(0.9, abs=1e-3)
    _, source_pictures = read_clip(onset_clip)
    assert np.abs(pictures[0].astype(int) - source_pictures[10]).mean() < 6  # frame 10 first
    assert _sound_onset(out) == pytest.approx(0.5, abs=0.01)  # the tone began at 1.5 s


@pytest.mark.parametrize(("args", "message"), [
    (["--start", "2", "--end", "1"], "--end 1 s is not after --start 2 s"),
    (["--end", "2", "--duration", "1"], "give --end or --duration, not both"),
])
def test_bad_time_ranges_are_refused(tmp_path, clip, capsys, args, message):
    assert main(["process", str(clip), "-o", str(tmp_path / "o.mp4"), *args]) == 2
    assert capsys.readouterr().err == f"livesegment: {message}\n"


@pytest.fixture
def http_folder(tmp_path):
    """A local HTTP server on 127.0.0.1 serving ``tmp_path/www``, as a stream server would."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(QuietHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_an_http_url_is_read_with_its_timing_and_sound(tmp_path, fake_model, http_folder,
                                                        capsys):
    www, base = http_folder
    times = make_clip(www / "clip.mp4", frames=10, tone_hz=440)
    out = tmp_path / "o.mp4"
    assert main(["process", f"{base}/clip.mp4", "-o", str(out)]) == 0
    got, pictures = read_clip(out)
    assert len(pictures) == 10 and np.allclose(got, times, atol=1e-3)
    assert _codecs(out) == ["h264", "aac"]
    assert f"wrote {out}: 10 frames" in capsys.readouterr().err
    assert main(["process", f"{base}/absent.mp4", "-o", str(out)]) == 2
    assert "404 Not Found" in capsys.readouterr().err


def test_a_camera_is_recorded_without_a_window_for_its_duration(tmp_path, fake_model,
                                                                 monkeypatch, capsys):
    from livesegment.io.live_source import SyntheticSource

    opened = []

    def fake_camera(spec, resolution=None):
        opened.append(spec)
        return SyntheticSource(128, 96, fps=20)

    monkeypatch.setattr("livesegment.pipeline.capture.open_live_source", fake_camera)
    out = tmp_path / "cam.mp4"
    assert main(["process", "0", "-o", str(out), "--duration", "0.5", "--quiet"]) == 0
    times, pictures = read_clip(out)
    assert opened == ["0"]
    assert 8 <= len(pictures) <= 10  # 20 fps for half a second
    assert times[0] == 0.0 and times[-1] < 0.5
    assert np.allclose(np.diff(times), 0.05, atol=0.03)  # the camera's own pace
    assert pictures[0].shape == (96, 128, 3)


def test_an_unplugged_camera_keeps_what_was_recorded(tmp_path, fake_model, monkeypatch,
                                                     capsys):
    from livesegment.errors import SourceLost
    from livesegment.io.live_source import SyntheticSource

    class Unplugged(SyntheticSource):
        def read(self):
            if self._index == 6:
                raise SourceLost("camera 0 stopped delivering frames (unplugged?)")
            return super().read()

    monkeypatch.setattr("livesegment.pipeline.capture.open_live_source",
                        lambda spec, resolution=None: Unplugged(64, 48, fps=50))
    out = tmp_path / "cam.mp4"
    assert main(["process", "0", "-o", str(out), "--masks", str(tmp_path / "m")]) == 0
    assert len(read_clip(out)[1]) == 6 and len(list((tmp_path / "m").iterdir())) == 6
    assert "the file ends early (truncated)" in capsys.readouterr().err


def test_ctrl_c_ends_a_camera_recording_as_a_complete_file(tmp_path, fake_model, monkeypatch):
    import os
    import signal

    from livesegment.io.live_source import SyntheticSource

    monkeypatch.setattr("livesegment.pipeline.capture.open_live_source",
                        lambda spec, resolution=None: SyntheticSource(64, 48, fps=25))
    timer = threading.Timer(0.6, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    out = tmp_path / "cam.mp4"
    try:
        code = main(["process", "0", "-o", str(out), "--quiet"])
    finally:
        timer.cancel()
    assert code == 0  # stopping is how a recording ends
    assert len(read_clip(out)[1]) >= 5 and not (tmp_path / "cam.partial.mp4").exists()


def test_a_missing_camera_is_one_line_and_exit_2(tmp_path, fake_model, capfd):
    assert main(["process", "97", "-o", str(tmp_path / "cam.mp4")]) == 2
    err = capfd.readouterr().err
    assert err == "livesegment: no camera at index 97 (is it plugged in and free?)\n"
    assert not list(tmp_path.iterdir())


def test_a_realtime_udp_stream_is_recorded_from_its_first_frame_for_its_duration(
        tmp_path, fake_model):
    """MPEG-TS over UDP on 127.0.0.1, as an encoder or IP camera sends it: its clock starts
    at 1.4 s (MPEG-TS's usual offset), the recording at 0."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stop = threading.Event()

    def send() -> None:
        stop.wait(0.8)  # the receiver listens first
        with av.open(f"udp://127.0.0.1:{port}?pkt_size=1316", "w", format="mpegts") as out:
            stream = out.add_stream("mpeg2video", rate=25)
            stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
            for i in range(150):
                if stop.is_set():
                    break
                frame = av.VideoFrame.from_ndarray(synthetic_frame(i, 96, 128), format="bgr24")
                frame.pts, frame.time_base = i, Fraction(1, 25)
                for packet in stream.encode(frame):
                    out.mux(packet)
                stop.wait(0.04)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    out = tmp_path / "udp.mp4"
    try:
        code = main(["process", f"udp://127.0.0.1:{port}?timeout=5000000", "-o", str(out),
                     "--duration", "1", "--quiet"])
    finally:
        stop.set()
        sender.join(5)
    assert code == 0
    times, pictures = read_clip(out)
    assert 20 <= len(pictures) <= 25 and times[0] == 0.0 and times[-1] < 1.0
    assert np.allclose(np.diff(times), 0.04, atol=1e-3)  # the stream's own clock, not ours
    assert _codecs(out) == ["h264"]


def test_live_never_replaces_a_recording_it_did_not_make(tmp_path, capsys):
    """live -o on an existing file is refused before anything opens (the file keeps its
    bytes), and on its own source file even with --overwrite."""
    clip = tmp_path / "clip.mp4"
    make_clip(clip, frames=5, size=(64, 96), rate=10)
    kept = tmp_path / "kept.mp4"
    kept.write_bytes(b"someone's video")
    assert main(["live", "--source", str(clip), "-o", str(kept)]) == 2
    err = capsys.readouterr().err
    assert f"output {kept} exists; pass --overwrite" in err and "Traceback" not in err
    assert kept.read_bytes() == b"someone's video"
    before = clip.read_bytes()
    assert main(["live", "--source", str(clip), "-o", str(clip), "--overwrite"]) == 2
    assert "is the input file" in capsys.readouterr().err and clip.read_bytes() == before
