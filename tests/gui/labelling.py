"""What the labelling window's tests share: crafted pictures in a label folder, the window on
it with the colour-only selector, and ways to wait for its worker and to click its canvas."""

from __future__ import annotations

from pathlib import Path

import cv2
from PyQt6.QtCore import QPoint, Qt

from livesegment.core.select import Selector
from livesegment.gui.label.window import LabelWindow
from livesegment.io.datasets.labelstore import LabelStore
from tests.core.test_select import A, B, mask, picture

SQUARE = (50, 30, 110, 90)
HEIGHT, WIDTH = 120, 160


def write_pictures(folder: Path) -> Path:
    """p0: one pale square; p1: two squares (A, B); p2: the square again."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, img in (("p0", picture(SQUARE)), ("p1", picture(A, B)), ("p2", picture(SQUARE))):
        cv2.imwrite(str(folder / f"{name}.png"), img)
    return folder


def make_store(tmp_path: Path) -> LabelStore:
    return LabelStore.create(tmp_path / "labels", write_pictures(tmp_path / "pics"),
                             ["background", "box", "other"])


def open_window(qtbot, store: LabelStore, **kwargs) -> LabelWindow:
    kwargs.setdefault("make_selector", lambda: Selector(None))
    window = LabelWindow(store, **kwargs)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    shown(qtbot, window)
    return window


def settle(qtbot, window: LabelWindow) -> None:
    """Waits for the sitting's worker to finish and its answers to be painted."""
    qtbot.waitUntil(window.sitting.idle, timeout=20000)
    qtbot.wait(30)


def shown(qtbot, window: LabelWindow) -> None:
    """Waits until the current picture is on the canvas."""
    qtbot.waitUntil(lambda: window.canvas.composed() is not None
                    and window.sitting.sheet(window.key) is not None, timeout=20000)
    settle(qtbot, window)


def at(window: LabelWindow, x: float, y: float) -> QPoint:
    """The canvas point over picture pixel (x, y)."""
    return window.canvas.to_widget(x, y).toPoint()


def click_at(qtbot, window: LabelWindow, x: float, y: float,
             button=Qt.MouseButton.LeftButton, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.mouseClick(window.canvas, button, modifier, at(window, x, y))
    settle(qtbot, window)


def drag(qtbot, window: LabelWindow, points: list[tuple[float, float]]) -> None:
    """A left-button drag through ``points`` (picture pixels)."""
    canvas = window.canvas
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=at(window, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(canvas, at(window, *p))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=at(window, *points[-1]))
    settle(qtbot, window)


def key(qtbot, window: LabelWindow, sequence: str) -> None:
    """Presses a shortcut the way a user does (the window's actions answer it)."""
    from PyQt6.QtGui import QKeySequence

    combo = QKeySequence(sequence)[0]
    qtbot.keyClick(window.canvas, combo.key(), combo.keyboardModifiers())
    settle(qtbot, window)


def now(window: LabelWindow):
    return window.sitting.sheet(window.key).now


__all__ = ["A", "B", "HEIGHT", "SQUARE", "WIDTH", "at", "click_at", "drag", "key", "make_store",
           "mask", "now", "open_window", "settle", "shown", "write_pictures"]
