"""``livesegment label``: one-line errors with exit 2 before any window opens, the label folder
it makes (or continues), and the classes it starts with."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from livesegment.cli import main
from livesegment.io.datasets.labelstore import LabelStore
from tests.conftest import make_clip


@pytest.fixture
def pictures(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        cv2.imwrite(str(folder / f"p{i}.png"), np.full((24, 32, 3), 40 * i, np.uint8))
    return folder


@pytest.fixture
def opened(monkeypatch):
    """The window is replaced by a note of what it was asked to open."""
    seen: list = []
    monkeypatch.setattr("livesegment.gui.label.app.run_label",
                        lambda store, model=None: seen.append((store, model)) or 0)
    return seen


def one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("livesegment: "), err
    assert "Traceback" not in err[0]
    return err[0]


def test_a_missing_input_is_one_line_and_exit_2(tmp_path, capsys, opened):
    assert main(["label", str(tmp_path / "nowhere")]) == 2
    assert "nowhere: no such folder or video" in one_error(capsys)
    assert opened == [] and not (tmp_path / "nowhere-labels").exists()


def test_an_output_folder_holding_other_files_is_refused_untouched(pictures, tmp_path, capsys,
                                                                   opened):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "thesis.txt").write_text("mine")
    assert main(["label", str(pictures), "-o", str(out)]) == 2
    message = capsys.readouterr().err.strip().splitlines()
    assert message[-1].startswith("livesegment: ") and str(out) in message[-1]
    assert sorted(p.name for p in out.iterdir()) == ["thesis.txt"]
    assert (out / "thesis.txt").read_text() == "mine" and opened == []


def test_empty_classes_are_refused(pictures, capsys, opened):
    assert main(["label", str(pictures), "--classes", " , "]) == 2
    assert "--classes" in one_error(capsys)


def test_pictures_get_a_label_folder_beside_them_with_the_classes(pictures, opened):
    assert main(["label", str(pictures), "--classes", "scratch,dent", "--model",
                 "espnetv2-voc"]) == 0
    (store, model), = opened
    assert store.folder == pictures.parent / "photos-labels"
    assert [c.name for c in store.classes] == ["background", "scratch", "dent"]
    assert store.keys() == ["p0.png", "p1.png"] and model == "espnetv2-voc"


def test_a_label_folder_is_continued_and_new_classes_are_added(pictures, tmp_path, opened):
    out = tmp_path / "labels"
    assert main(["label", str(pictures), "-o", str(out), "--classes", "scratch"]) == 0
    first = opened[-1][0]
    first.save_labels("p0.png", np.ones((24, 32), np.uint8))
    assert main(["label", str(out), "--classes", "scratch,dent"]) == 0
    again = opened[-1][0]
    assert [c.name for c in again.classes] == ["background", "scratch", "dent"]
    assert len({c.colour for c in again.classes}) == 3
    assert (again.labels("p0.png") == 1).all()
    assert LabelStore.open(out).labelled() == ["p0.png"]


@pytest.fixture
def no_display(monkeypatch):
    """A Linux machine with no desktop session: Qt would abort the process there."""
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.platform", "linux")


def test_no_display_is_one_line_before_anything_is_made(pictures, capsys, opened, no_display):
    assert main(["label", str(pictures)]) == 2
    assert "no display" in one_error(capsys)
    assert opened == [] and not (pictures.parent / "photos-labels").exists()


def test_the_live_window_without_a_display_is_one_line_too(capsys, no_display):
    assert main(["gui"]) == 2
    assert "no display" in one_error(capsys)


def test_any_display_lets_the_window_open(pictures, opened, monkeypatch, no_display):
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert main(["label", str(pictures)]) == 0 and len(opened) == 1


def test_a_label_folder_with_another_output_is_refused_not_ignored(pictures, tmp_path, capsys,
                                                                   opened):
    out = tmp_path / "labels"
    assert main(["label", str(pictures), "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["label", str(out), "-o", str(tmp_path / "copy")]) == 2
    assert "-o" in one_error(capsys) and not (tmp_path / "copy").exists()
    assert main(["label", str(out), "-o", str(out)]) == 0 and len(opened) == 2


class Terminal(io.StringIO):
    """stderr as a terminal: the bar redraws in place, and its last drawing stays."""

    def isatty(self) -> bool:
        return True


def test_extracting_a_video_shows_the_bar_ending_on_all_frames(tmp_path, monkeypatch, opened):
    clip = tmp_path / "walk.mp4"
    make_clip(clip, frames=12, size=(48, 64))
    err = Terminal()
    monkeypatch.setattr("sys.stderr", err)
    assert main(["label", str(clip)]) == 0 and len(opened) == 1
    lines = [part for part in re.split(r"[\r\n]", err.getvalue()) if part.strip()]
    assert lines[0] == f"livesegment: label folder {tmp_path / 'walk-labels'}"
    assert "12/12 frames" in lines[-1] and "100%" in lines[-1], lines
    assert len(opened[0][0].keys()) == 12


def test_quiet_makes_the_folder_without_a_bar(tmp_path, capsys, opened):
    clip = tmp_path / "walk.mp4"
    make_clip(clip, frames=6, size=(48, 64))
    assert main(["label", str(clip), "--quiet"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"livesegment: label folder {tmp_path / 'walk-labels'}"]


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs signals")
def test_ctrl_c_while_extracting_removes_the_folder_and_exits_130(tmp_path):
    clip, folder = tmp_path / "long.mp4", tmp_path / "long-labels"
    make_clip(clip, frames=400, size=(240, 320))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-m", "livesegment", "label", str(clip)],
                            stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if (folder / "images").is_dir() and len(list((folder / "images").iterdir())) >= 3:
            break
        time.sleep(0.005)
    written = len(list((folder / "images").iterdir()))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    lines = err.strip().splitlines()
    assert written < 400, "extraction ended before the signal: make the clip longer"
    assert proc.returncode == 130, err
    assert lines[0] == f"livesegment: label folder {folder}"
    assert lines[-1] == ("livesegment: interrupted; nothing kept of the unfinished label "
                         f"folder {folder}")
    assert "Traceback" not in err
    assert not folder.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4"]
