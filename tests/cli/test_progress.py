"""The progress bar fits the terminal, and writes plain throttled lines where there is none."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import termios

from livesegment.cli.progress import ProgressBar
from livesegment.pipeline.cluster import ClusterProgress
from livesegment.pipeline.job import Progress

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _terminal(columns: int):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    return master, os.fdopen(slave, "w", encoding="utf-8")


def _read_all(master: int) -> str:
    os.set_blocking(master, False)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def test_a_10000_frame_job_stays_on_one_80_column_line():
    master, tty = _terminal(80)
    bar = ProgressBar(True, tty, label="a-rather-long-video-file-name-from-a-camera.mp4")
    for frame in range(0, 10_001, 250):
        bar._bar and setattr(bar._bar, "last_print_t", 0.0)  # force every redraw
        bar.update(Progress(frame, frame / 25, 400.0, 1 + frame / 30))
    bar.close()
    tty.flush()
    screen = ANSI.sub("", _read_all(master))
    tty.close()
    os.close(master)
    drawn = [part for part in re.split(r"[\r\n]", screen) if part.strip()]
    assert len(drawn) > 20  # it really redrew
    assert max(len(part) for part in drawn) <= 80
    last = drawn[-1]
    assert "100%" in last and "400.0/400.0 s" in last and "frame 10000" in last
    assert "fps" in last and "a-rather-long-v…:" in last
    assert screen.count("\n") <= 2  # redrawn in place, not a line per update


def test_without_a_terminal_it_writes_plain_lines_every_few_seconds(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("livesegment.cli.progress.time.monotonic", lambda: clock[0])
    log = io.StringIO()
    bar = ProgressBar(True, log)
    for second in range(12):  # twelve seconds of updates, ten a second
        for tenth in range(10):
            clock[0] = 100.0 + second + tenth / 10
            frame = second * 10 + tenth
            bar.update(Progress(frame, frame / 10, 20.0, second + tenth / 10))
    bar.close()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert len(lines) == 3  # at 0, 5 and 10 s
    assert lines[2].startswith(" 50% 10.0/20.0 s") and "frame 100" in lines[2]
    assert "10.0 fps" in lines[2]


def test_a_stream_without_a_length_shows_time_and_frames():
    log = io.StringIO()
    bar = ProgressBar(True, log)
    bar.update(Progress(30, 1.5, 0.0, 1.0))
    assert log.getvalue().startswith("1.5 s [00:01, frame 30, 30.0 fps]")


def test_quiet_writes_nothing():
    log = io.StringIO()
    bar = ProgressBar(False, log)
    bar.update(Progress(30, 1.5, 3.0, 1.0))
    bar.close()
    assert log.getvalue() == ""


def test_a_terminal_that_reports_no_size_still_gets_a_bar_of_columns_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    master, tty = _terminal(0)  # 0 x 0: what some containers report
    fcntl.ioctl(tty.fileno(), termios.TIOCSWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
    bar = ProgressBar(True, tty)
    bar.update(Progress(500, 20.0, 400.0, 10.0))
    bar.close()
    tty.flush()
    drawn = [p for p in re.split(r"[\r\n]", ANSI.sub("", _read_all(master))) if p.strip()]
    tty.close()
    os.close(master)
    assert drawn and all(len(p) <= 60 for p in drawn) and "frame 500" in drawn[-1]


def _drawn(label: str, draw) -> list[str]:
    """What a bar on an 80-column terminal showed, line by line, after ``draw(bar)``."""
    master, tty = _terminal(80)
    bar = ProgressBar(True, tty, label=label)
    draw(bar)
    bar.close()
    tty.flush()
    drawn = [p for p in re.split(r"[\r\n]", ANSI.sub("", _read_all(master))) if p.strip()]
    tty.close()
    os.close(master)
    return drawn


def test_a_ray_run_shows_frames_and_files_done_on_one_line():
    def draw(bar):
        bar.update_cluster(ClusterProgress(3, 30, 0, 4))
        bar.update_cluster(ClusterProgress(33, 33, 4, 4))  # the estimate grew: total follows

    drawn = _drawn("ray", draw)
    assert all(len(p) <= 80 for p in drawn)
    assert "33/33 frames" in drawn[-1] and "files 4/4" in drawn[-1]
    log = io.StringIO()
    ProgressBar(True, log, label="ray").update_cluster(ClusterProgress(5, 20, 1, 4))
    assert log.getvalue().startswith("ray: 25% 5/20 frames [") and "files 1/4" in log.getvalue()


def test_an_evaluation_counts_pictures():
    def draw(bar):
        for done in range(10, 201, 10):  # few enough redraws for the pty's buffer
            bar._bar and setattr(bar._bar, "last_print_t", 0.0)
            bar.update_pictures(done, 200, done / 4)

    drawn = _drawn("eval", draw)
    assert all(len(p) <= 80 for p in drawn)
    assert "100%" in drawn[-1] and "200/200 pictures" in drawn[-1] and "4.0 pictures/s" in \
        drawn[-1]
    log = io.StringIO()
    ProgressBar(True, log, label="eval").update_pictures(50, 200, 10.0)
    assert log.getvalue().startswith("eval: 25% 50/200 pictures [") and "5.0 pictures/s" in \
        log.getvalue()
