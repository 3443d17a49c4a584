"""``livesegment process`` end to end: frames, sizes, timing, audio, masks, messages, exit codes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from livesegment.cli import main
from tests.conftest import FOOTAGE, PERSON, make_clip, needs_footage, read_clip

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "livesegment", *args], capture_output=True,
                          text=True, env=ENV, timeout=300)


@pytest.fixture(scope="module")
def toned_clip(tmp_path_factory) -> tuple[Path, list[float]]:
    path = tmp_path_factory.mktemp("clips") / "tone.mp4"
    times = make_clip(path, frames=30, size=(120, 160), tone_hz=440,
                      times_s=[i * 0.04 for i in range(20)] + [0.8 + i * 0.1 for i in range(10)])
    return path, times


def test_process_video_keeps_frames_size_timing_audio_and_writes_masks(tmp_path, toned_clip,
                                                                       capsys):
    src, times = toned_clip
    out, masks = tmp_path / "out.mp4", tmp_path / "masks"
    assert main(["process", str(src), "-o", str(out), "--masks", str(masks), "--quiet"]) == 0
    got, pictures = read_clip(out)
    assert len(pictures) == 30 and pictures[0].shape == (120, 160, 3)
    assert np.allclose(got, times, atol=1e-3)  # the 100 ms gaps at the end are kept
    with av.open(str(out)) as c:
        assert c.streams.audio and c.streams.audio[0].codec_context.name == "aac"
    files = sorted(masks.iterdir())
    assert [f.name for f in files[:2]] == ["000000.png", "000001.png"] and len(files) == 30
    mask = cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (120, 160) and mask.dtype == np.uint8 and mask.max() <= 20
    assert capsys.readouterr().err == ""  # --quiet: nothing on success


def test_opacity_zero_and_an_absent_class_leave_the_video_as_it_was(tmp_path, toned_clip):
    src, _ = toned_clip
    _, original = read_clip(src)
    for extra in (["--opacity", "0"], ["--classes", "aeroplane", "--opacity", "1"]):
        out = tmp_path / f"same{len(extra)}.mp4"
        assert main(["process", str(src), "-o", str(out), "--quiet", *extra]) == 0
        _, pictures = read_clip(out)
        diff = np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(pictures, original)])
        assert diff < 2.0  # only the re-encoding's loss


def _photo(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    picture = rng.integers(0, 255, (45, 61, 3), np.uint8)
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), picture)
    return path


@pytest.mark.parametrize("extra", [["--opacity", "0"], ["--classes", "aeroplane,train"]])
def test_images_are_bit_exact_when_nothing_is_painted(tmp_path, extra):
    src = _photo(tmp_path)
    out = tmp_path / "out.png"
    assert main(["process", str(src), "-o", str(out), "--quiet", *extra]) == 0
    assert np.array_equal(cv2.imread(str(out)), cv2.imread(str(src)))


@needs_footage()
def test_real_footage_overlay_paints_people(tmp_path):
    """The first second of the shared footage: people are found and painted person-pink."""
    clip = tmp_path / "walk.mp4"
    with av.open(str(FOOTAGE)) as src, av.open(str(clip), "w") as dst:
        stream = dst.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        for i, frame in enumerate(src.decode(video=0)):
            if i == 12:
                break
            frame.pts, frame.time_base = i, Fraction(1, 25)
            for p in stream.encode(frame):
                dst.mux(p)
        for p in stream.encode(None):
            dst.mux(p)
    out, masks = tmp_path / "out.mp4", tmp_path / "m"
    assert main(["process", str(clip), "-o", str(out), "--masks", str(masks), "--quiet",
                 "--classes", "person", "--opacity", "1"]) == 0
    _, pictures = read_clip(out)
    assert len(pictures) == 12
    mask = cv2.imread(str(masks / "000011.png"), cv2.IMREAD_UNCHANGED)
    share = (mask == PERSON).mean()
    assert 0.02 < share < 0.2
    painted = pictures[11][mask == PERSON].mean(0)  # BGR of VOC person (192,128,128) RGB
    assert np.allclose(painted, (128, 128, 192), atol=12)


@pytest.mark.parametrize(("args", "message"), [
    (["process", "{d}/absent.mp4", "-o", "{d}/o.mp4"], "input not found: {d}/absent.mp4"),
    (["process", "{d}/empty", "-o", "{d}/o.mp4"], "no videos or pictures in folder {d}/empty"),
    (["process", "{d}/text.mp4", "-o", "{d}/o.mp4"], "cannot read video {d}/text.mp4"),
    (["process", "{d}/bad.png", "-o", "{d}/o.png"], "cannot decode image {d}/bad.png"),
    (["process", "{d}/clip.mp4", "-o", "{d}/clip.mp4"], "is the input file"),
    (["process", "{d}/clip.mp4", "-o", "{d}/no/o.mp4"], "output folder {d}/no does not exist"),
    (["process", "{d}/clip.mp4", "-o", "{d}/o.png"], "a video needs one of"),
    (["process", "{d}/clip.mp4", "-o", "{d}/o.mp4", "--model", "espnet"],
     "unknown model 'espnet'; did you mean"),
    (["process", "{d}/clip.mp4", "-o", "{d}/o.mp4", "--classes", "persn"],
     "did you mean 'person'"),
    (["process", "{d}/clip.mp4", "-o", "{d}/o.mp4", "--size", "16"], "too small"),
    (["process", "{d}/clip.mp4", "-o", "{d}/o.mp4", "--weights", "{d}/none.pth"],
     "weights file not found: {d}/none.pth"),
    (["process", "{d}/clip.mp4", "-o", "{d}/o.mp4", "--weights", "{d}/text.mp4"],
     "is not a PyTorch weights file"),
])
def test_bad_input_gets_one_line_and_exit_2(tmp_path, clip, capsys, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "text.mp4").write_text("not a video at all")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (tmp_path / "clip.mp4").write_bytes(clip.read_bytes())
    before = (tmp_path / "clip.mp4").read_bytes()
    code = main([a.format(d=tmp_path) for a in args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("livesegment: ") and err.count("\n") == 1
    assert message.format(d=tmp_path) in err
    assert (tmp_path / "clip.mp4").read_bytes() == before
    assert not (tmp_path / "o.mp4").exists() and not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize(("args", "message"), [
    (["--opacity", "1.5"], "opacity 1.5 is outside 0..1"),
    (["--opacity", "half"], "opacity 'half' is not a number"),
])
def test_option_errors_exit_2(clip, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        main(["process", str(clip), "-o", str(tmp_path / "o.mp4"), *args])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_cuda_request_without_cuda_is_a_clear_error(clip, tmp_path):
    proc = run_cli("process", str(clip), "-o", str(tmp_path / "o.mp4"), "--device", "cuda")
    if proc.returncode == 0:
        pytest.skip("this machine has CUDA")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        proc.stderr.strip().splitlines()[0]) and "CUDA was requested" in proc.stderr


def test_existing_output_is_replaced_only_when_complete(tmp_path, clip):
    out = tmp_path / "o.mp4"
    out.write_bytes(b"older result")
    assert main(["process", str(clip), "-o", str(out), "--quiet"]) == 0
    assert len(read_clip(out)[1]) == 12
    assert not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_midway_leaves_a_playable_partial_file(tmp_path, sig, code):
    src = tmp_path / "long.mp4"
    make_clip(src, frames=400, size=(240, 320))
    out = tmp_path / "out.mp4"
    out.write_bytes(b"older result")
    proc = subprocess.Popen([sys.executable, "-m", "livesegment", "process", str(src), "-o",
                             str(out), "--size", "256"], stderr=subprocess.PIPE, text=True,
                            env=ENV)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".out.*.partial.mp4")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    partial = tmp_path / "out.partial.mp4"
    written = int(err.split("interrupted; ")[1].split(" frames")[0])
    assert 0 < written < 400 and "Traceback" not in err
    assert len(read_clip(partial)[1]) == written
    assert out.read_bytes() == b"older result"  # the older output is not destroyed


def test_models_lists_every_model_with_its_weights_status(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    table, hint = out.split("\n\n")
    lines = table.splitlines()
    assert hint.strip() == "classes of a model: livesegment models NAME"
    assert lines[0].split() == ["NAME", "CLASSES", "SIZE", "WEIGHTS", "LICENCE"]
    by_name = {ln.split()[0]: ln.split() for ln in lines[1:]}
    assert by_name["espnetv2-voc-fused"][1:5] == ["(default)", "21", "256", "bundled"]
    assert by_name["espnetv2-voc"][1:4] == ["21", "256", "bundled"]
    assert by_name["espnetv2-cityscapes"][1:4] == ["20", "512", "bundled"]
    assert by_name["deeplabv3-resnet50"][3] in {"cached", "downloadable"}


def test_version():
    proc = run_cli("--version")
    from livesegment import __version__

    assert proc.returncode == 0 and proc.stdout.strip() == f"livesegment {__version__}"


@pytest.mark.parametrize(("picture", "name"), [
    (np.zeros((1, 1, 3), np.uint8), "one.png"),
    (np.full((5, 7, 3), 200, np.uint8), "odd.png"),
    (np.full((33, 17), 120, np.uint8), "grey.png"),
    (np.full((20, 30, 3), 50000, np.uint16), "deep.png"),
    (np.full((20, 30, 4), 255, np.uint8), "rgba.png"),
    (np.full((40, 60, 3), 99, np.uint8), "photo.jpg"),
])
def test_odd_pictures_come_out_at_their_own_size(tmp_path, picture, name):
    src = tmp_path / name
    cv2.imwrite(str(src), picture)
    out = tmp_path / f"out{Path(name).suffix}"
    assert main(["process", str(src), "-o", str(out), "--quiet", "--masks",
                 str(tmp_path / "m")]) == 0
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert written.shape == picture.shape[:2] + (3,) and written.dtype == np.uint8
    assert cv2.imread(str(tmp_path / "m" / "000000.png"), cv2.IMREAD_UNCHANGED).shape == \
        picture.shape[:2]


def test_8k_still_is_processed_without_running_out_of_memory(tmp_path):
    import resource

    src = tmp_path / "8k.png"
    picture = np.zeros((4320, 7680, 3), np.uint8)
    picture[1000:3000, 2000:5000] = (40, 40, 220)
    cv2.imwrite(str(src), picture)
    out = tmp_path / "8k-out.png"
    proc = run_cli("process", str(src), "-o", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert cv2.imread(str(out)).shape == (4320, 7680, 3)
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    assert peak_gb < 4


def test_corrupt_video_keeps_every_decodable_frame_and_says_how_many_were_lost(tmp_path):
    src = tmp_path / "clip.mkv"
    make_clip(src, frames=60, size=(96, 128))
    data = bytearray(src.read_bytes())
    middle = len(data) // 2
    data[middle: middle + 3000] = bytes(3000)  # a damaged stretch in the middle
    damaged = tmp_path / "damaged.mkv"
    damaged.write_bytes(bytes(data))
    out = tmp_path / "out.mp4"
    proc = run_cli("process", str(damaged), "-o", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    decodable = 0  # what FFmpeg itself can get out of the damaged file
    with av.open(str(damaged)) as c:
        try:
            for _ in c.decode(video=0):
                decodable += 1
        except av.FFmpegError:
            pass
    frames = len(read_clip(out)[1])
    assert 10 < frames == decodable < 60
    assert f"livesegment: warning: {60 - frames} frames could not be read" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_avi_declaring_50fps_with_pictures_40ms_apart_keeps_its_duration(tmp_path):
    """The container declares 50 fps and 49 frames for 25 pictures, like the shared footage:
    the output must last as long as the source, not half as long."""
    src = tmp_path / "fifty.avi"
    times = make_clip(src, frames=25, size=(96, 128), codec="mpeg4", rate=50,
                      time_base=Fraction(1, 50), times_s=[i * 0.04 for i in range(25)])
    with av.open(str(src)) as c:
        assert c.streams.video[0].average_rate == 50 and c.streams.video[0].frames == 49
    out = tmp_path / "out.mp4"
    assert main(["process", str(src), "-o", str(out), "--quiet"]) == 0
    got, pictures = read_clip(out)
    assert len(pictures) == 25
    assert got[-1] - got[0] == pytest.approx(times[-1] - times[0], abs=0.005)  # 0.96 s
