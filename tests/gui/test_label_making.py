"""A label folder made by the labelling window itself (Open video…): frames extracted off the
GUI thread with a progress dialog, the window on the first frame after; Cancel leaves no
folder."""

from __future__ import annotations

import threading

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QPushButton

from livesegment.core.select import Selector
from livesegment.gui.label.window import LabelWindow
from livesegment.io.datasets import labelfiles
from tests.conftest import make_clip
from tests.gui.labelling import shown


def empty_window(qtbot) -> LabelWindow:
    window = LabelWindow(make_selector=lambda: Selector(None))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def noted(window: LabelWindow) -> list[str]:
    """What the window's busy line said, in order (it still says it)."""
    said: list[str] = []
    busy = window._busy
    window._busy = lambda text: (said.append(text), busy(text))
    return said


def test_a_video_is_extracted_with_progress_and_opens_on_its_first_frame(qtbot, tmp_path):
    clip, out = tmp_path / "walk.mp4", tmp_path / "walk-labels"
    make_clip(clip, frames=12, size=(48, 64))
    window = empty_window(qtbot)
    said = noted(window)
    window.open_source(str(clip), str(out))
    qtbot.waitUntil(lambda: window.store is not None, timeout=20000)
    shown(qtbot, window)
    dialog = window.making.dialog
    assert (dialog.value(), dialog.maximum()) == (12, 12) and not dialog.isVisible()
    assert "Making walk-labels: 12/12 frames" in said and said[-1] == ""
    assert window.store.folder == out and len(window.keys) == 12
    assert window.index == 0 and window.key == "walk_000000.png"
    assert np.array_equal(window.sitting.picture(window.key),
                          window.store.picture("walk_000000.png"))


def test_cancel_mid_way_leaves_no_folder(qtbot, tmp_path, monkeypatch):
    clip, out = tmp_path / "walk.mp4", tmp_path / "walk-labels"
    make_clip(clip, frames=30, size=(48, 64))
    reached, go = threading.Event(), threading.Event()
    write_png = labelfiles.write_png

    def held_at_5(folder, final, picture):  # the 5th frame waits for the click: no race
        write_png(folder, final, picture)
        if len(list(final.parent.iterdir())) == 5:
            reached.set()
            go.wait(20)

    monkeypatch.setattr(labelfiles, "write_png", held_at_5)
    window = empty_window(qtbot)
    window.open_source(str(clip), str(out))
    qtbot.waitUntil(reached.is_set, timeout=20000)
    dialog = window.making.dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5000)  # while the helper thread is held
    qtbot.waitUntil(lambda: dialog.maximum() == 30)  # frames out of the video's
    assert 1 <= dialog.value() <= 5
    qtbot.mouseClick(dialog.findChild(QPushButton), Qt.MouseButton.LeftButton)
    go.set()
    qtbot.waitUntil(lambda: not window.making.running, timeout=20000)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["walk.mp4"]
    assert window.store is None and not dialog.isVisible()
    assert window.statusBar().currentMessage() == (
        f"Cancelled: no label folder was made at {out}")
