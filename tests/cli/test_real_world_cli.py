"""Issue 13 through ``livesegment process``: awkward names, pipes, mask folders, full disks.

Subprocess runs are bounded by timeouts (a pipe read twice used to hang forever); the full-disk
cases write onto a small tmpfs mounted in a private user namespace (``unshare -Urm``), a real
"No space left on device", and one more uses RLIMIT_FSIZE, which needs nothing.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from livesegment.cli import main
from tests.conftest import make_clip, read_clip
from tests.real_world_media import write_video

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
FAST = ["--size", "64"]


def run_cli(*args, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "livesegment", "process", *FAST, *args],
                          capture_output=True, env=ENV, timeout=timeout, **kw)


def one_line_error(stderr: bytes) -> str:
    text = stderr.decode(errors="replace").strip()
    assert "Traceback" not in text and "[Errno" not in text, text
    assert len(text.splitlines()) == 1 and text.startswith("livesegment: "), text
    return text


def test_a_name_that_is_not_utf8_works_with_masks(tmp_path):
    """It used to end in SIGSEGV (OpenCV given a surrogate-escaped name)."""
    src = write_video(tmp_path / "src.mp4", frames=4)
    raw = os.fsencode(tmp_path)
    odd = Path(os.fsdecode(raw + b"/caf\xe9.mp4"))
    os.replace(src, odd)
    assert main(["process", str(odd), "-o", os.fsdecode(raw + b"/out\xff.mp4"), "--masks",
                 os.fsdecode(raw + b"/m\xe9"), "--quiet", *FAST]) == 0
    masks = sorted(os.listdir(raw + b"/m\xe9"))
    assert masks == [b"000000.png", b"000001.png", b"000002.png", b"000003.png"]
    assert os.path.getsize(raw + b"/out\xff.mp4") > 0


def test_url_like_and_dash_names_from_the_shell(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    make_clip(tmp_path / "10:30.mp4", frames=3)
    make_clip(tmp_path / "-clip.mp4", frames=3)
    (tmp_path / "12:00.mp4").write_text("not a video")
    assert main(["process", *FAST, "10:30.mp4", "-o", "11:30.mp4", "--quiet"]) == 0
    assert len(read_clip(tmp_path / "11:30.mp4")[1]) == 3
    assert main(["process", *FAST, "-o", "dash.mp4", "--quiet", "--", "-clip.mp4"]) == 0
    assert main(["process", *FAST, "./-clip.mp4", "-o", "dot.mp4", "--quiet"]) == 0
    assert main(["process", *FAST, "12:00.mp4", "-o", "o.mp4"]) == 2
    assert one_line_error(capsys.readouterr().err.encode()) == (
        "livesegment: cannot read video 12:00.mp4: Invalid data found when processing input")


@pytest.mark.slow  # a subprocess: ~3 s alone, 15 s on the shared machine
def test_standard_input_is_read_once(tmp_path):
    src = write_video(tmp_path / "src.mkv", frames=6, audio=[dict(codec="aac")])
    with open(src, "rb") as stdin:
        proc = run_cli("-", "-o", str(tmp_path / "out.mp4"), "--quiet", stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    assert len(read_clip(tmp_path / "out.mp4")[1]) == 6
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert c.streams.audio


def test_masks_beside_an_input_named_like_a_mask_never_replace_it(tmp_path, capsys):
    picture = np.full((24, 32, 3), 77, np.uint8)
    cv2.imwrite(str(tmp_path / "000000.png"), picture)
    before = (tmp_path / "000000.png").read_bytes()
    for extra in ([], ["--overwrite"]):
        code = main(["process", str(tmp_path / "000000.png"), "-o", str(tmp_path / "o.png"),
                     "--masks", str(tmp_path), "--quiet", *FAST, *extra])
        assert code == 2
        assert "holds the input 000000.png" in capsys.readouterr().err
    assert (tmp_path / "000000.png").read_bytes() == before and not (tmp_path / "o.png").exists()


def test_summary_speaks_of_video_time_and_names_dropped_streams(tmp_path, capsys):
    src = write_video(tmp_path / "rec.mkv", frames=25, start_s=1.4, subtitle=True,
                      audio=[dict(codec="aac", start_s=1.4, seconds=1.0)])
    assert main(["process", str(src), "-o", str(tmp_path / "o.mp4"), *FAST]) == 0
    err = [line for line in capsys.readouterr().err.splitlines()
           if line.startswith(("livesegment:", "wrote "))]  # the progress bar's lines aside
    assert err[0] == ("livesegment: note: dropped subtitle (srt): the output keeps only "
                      "picture and sound")
    assert ": 25 frames, 64x48, 0.96 s, audio copied in " in err[1]


@pytest.fixture
def file_size_limit():
    """Sets RLIMIT_FSIZE (soft) for this process: writes past it fail with EFBIG, as on a full
    disk, once SIGXFSZ is ignored. Restored after the test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    yield lambda size: resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    signal.signal(signal.SIGXFSZ, previous)


@pytest.mark.parametrize(("output", "message"), [
    ("o.mp4", "cannot write video {d}/o.mp4: File too large"),
    ("o.png", "cannot write {d}/o.png: File too large"),
])
def test_a_file_size_limit_is_a_one_line_error_and_leaves_nothing(tmp_path, file_size_limit,
                                                                  capsys, output, message):
    if output.endswith(".mp4"):
        src = tmp_path / "big.mp4"
        make_clip(src, frames=40, size=(120, 160))
    else:
        src = tmp_path / "photo.png"
        cv2.imwrite(str(src), np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    file_size_limit(6000)
    code = main(["process", str(src), "-o", str(out_dir / output), "--quiet", *FAST])
    assert code == 2
    assert one_line_error(capsys.readouterr().err.encode()) == (
        "livesegment: " + message.format(d=out_dir))
    assert list(out_dir.iterdir()) == []


def _unshare_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-Urm", "true"], timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


INSPECT = """
import json, os, sys, cv2
found = {}
for root, _, files in os.walk(sys.argv[1]):
    for name in files:
        path = os.path.join(root, name)
        size = os.path.getsize(path)
        ok = cv2.imread(path, cv2.IMREAD_UNCHANGED) is not None if name.endswith(".png") else None
        found[os.path.relpath(path, sys.argv[1])] = [size, ok]
print(json.dumps(found))
"""


@pytest.mark.slow  # subprocesses on a tmpfs: ~15 s each on the shared machine
@pytest.mark.skipif(not _unshare_available(), reason="no unprivileged mount namespace here")
@pytest.mark.parametrize(("case", "tmpfs_kb", "message"), [
    ("video", 8, "cannot write video {d}/o.mp4: No space left on device"),
    ("masks", 8, "cannot write mask {d}/m/0000"),
    ("image", 8, "cannot write {d}/o.png: No space left on device"),
])
def test_a_full_disk_is_a_one_line_error_with_nothing_half_written(tmp_path, case, tmpfs_kb,
                                                                    message):
    disk = tmp_path / "disk"
    disk.mkdir()
    if case == "image":
        src = tmp_path / "photo.png"
        cv2.imwrite(str(src), np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8))
        args = [src, "-o", disk / "o.png"]
    else:
        src = tmp_path / "clip.mp4"
        make_clip(src, frames=60, size=(120, 160))
        out = disk / "o.mp4" if case == "video" else tmp_path / "o.mp4"
        args = [src, "-o", out] + (["--masks", disk / "m"] if case == "masks" else [])
    command = " ".join(f"'{a}'" for a in [sys.executable, "-m", "livesegment", "process",
                                         *args, "--quiet", *FAST])
    script = (f"mount -t tmpfs -o size={tmpfs_kb}k tmpfs '{disk}' && {command}; "
              f"echo $? >&2; '{sys.executable}' -c '{INSPECT}' '{disk}'")
    proc = subprocess.run(["unshare", "-Urm", "sh", "-c", script], capture_output=True,
                          env=ENV, timeout=120)
    *lines, code = proc.stderr.decode().strip().splitlines()
    assert code == "2", proc.stderr
    assert one_line_error("\n".join(lines).encode()).startswith(
        "livesegment: " + message.format(d=disk))
    left = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert not [name for name in left if "partial" in name or name.startswith(".")], left
    if case == "masks":  # every mask left is whole: a full PNG, never 0 bytes or truncated
        assert left and all(size > 0 and ok for size, ok in left.values()), left
    else:
        assert left == {}
