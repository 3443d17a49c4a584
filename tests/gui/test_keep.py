"""Click to keep in the live window: a click on an object keeps it in front of the blur (its
class where the model has one, else the region under the click), a second click releases it,
Esc or the menu entry releases everything; asserted on the composed pixels."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from PyQt6.QtCore import QPoint, QSettings, Qt

from livesegment.core.frames import Frame
from livesegment.gui.keep import HINT
from livesegment.gui.widgets import picture_rect
from livesegment.gui.window import MainWindow
from tests.conftest import PERSON, fake_segmenter

H, W = 180, 240
BOX = (slice(40, 110), slice(140, 210))  # a green textured box: background to the model
RED = (slice(60, 130), slice(20, 80))    # a red square: the fake model's person


class StillScene:
    """A still scene at 30 frames a second: a noisy grey background (which a blur visibly
    changes), the fake model's person and a green box it has no class for."""

    name, fps = "still scene", 30.0

    def __init__(self) -> None:
        rng = np.random.default_rng(3)
        self.bgr = rng.integers(60, 200, (H, W, 3), dtype=np.uint8)
        box = rng.integers(0, 50, (70, 70, 3), dtype=np.uint8)
        box[..., 1] += 180
        self.bgr[BOX] = box
        self.bgr[RED] = (0, 0, 255)
        self.index = 0

    def read(self) -> Frame:
        time.sleep(1 / self.fps)
        self.index += 1
        return Frame(self.index, self.index / self.fps, self.bgr.copy(), time.monotonic())

    def close(self) -> None:
        pass


@pytest.fixture
def win(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    seg = fake_segmenter()
    window = MainWindow("scene", segmenter_factory=lambda m, d, s, b="torch": seg,
                        source_factory=lambda spec, resolution=None: StillScene(),
                        settings=settings, probe=False)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.last_shown is not None, timeout=10000)
    window.effects.set_effect("blur")
    return window


def click(qtbot, win, x: int, y: int) -> None:
    """A left click on the view where frame pixel (x, y) is drawn."""
    view = win.view
    left, top, width, height = picture_rect(W, H, view.width(), view.height())
    at = QPoint(int(left + (x + 0.5) * width / W), int(top + (y + 0.5) * height / H))
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=at)


def inner(where: tuple[slice, slice], by: int = 4) -> np.ndarray:
    """A region's mask shrunk by ``by`` pixels: its edge may fall a pixel or two either way."""
    mask = np.zeros((H, W), np.uint8)
    mask[where] = 1
    return cv2.erode(mask, np.ones((2 * by + 1, 2 * by + 1), np.uint8)).astype(bool)


def untouched(composed, where) -> float:
    """Share of the region's inner pixels shown exactly as the camera gave them."""
    region = inner(where)
    return float(np.all(composed.image[region] == composed.frame.bgr[region], axis=1).mean())


def wait_for(qtbot, win, check, timeout: int = 20000):
    """The first composed frame, ready after this call, for which ``check`` holds."""
    since = time.monotonic()
    qtbot.waitUntil(lambda: win.last_shown.ready_at > since and check(win.last_shown),
                    timeout=timeout)
    return win.last_shown


@pytest.mark.parametrize("pace", ["newest", "camera"])
def test_a_click_on_what_the_model_calls_background_keeps_the_region_under_it(qtbot, win,
                                                                               pace):
    win.models.set_pace(pace)
    win.pipeline.set_pace(pace)
    before = wait_for(qtbot, win, lambda c: untouched(c, RED) == 1.0)
    assert untouched(before, BOX) < 0.05  # blurred like the rest
    click(qtbot, win, 175, 75)
    qtbot.waitUntil(lambda: win.statusBar().currentMessage() == "keeping the clicked region",
                    timeout=20000)
    kept = wait_for(qtbot, win, lambda c: untouched(c, BOX) == 1.0)
    assert untouched(kept, RED) == 1.0  # the person too
    rest = np.ones((H, W), bool)
    rest[40 - 8:110 + 8, 140 - 8:210 + 8] = rest[60 - 8:130 + 8, 20 - 8:80 + 8] = False
    assert np.all(kept.image[rest] == kept.frame.bgr[rest], axis=1).mean() < 0.05  # blurred
    assert win.keep.state.text() == "Kept by clicks: the clicked region (Esc releases)"

    click(qtbot, win, 175, 75)  # the second click releases it
    assert win.statusBar().currentMessage() == "released the clicked region"
    after = wait_for(qtbot, win, lambda c: untouched(c, BOX) < 0.05)
    assert untouched(after, RED) == 1.0
    assert win.keep.state.text() == HINT


def test_a_click_on_a_class_checks_it_and_a_second_one_releases_it(qtbot, win):
    win.classes.set_checked(PERSON, False)
    wait_for(qtbot, win, lambda c: untouched(c, RED) < 0.05)  # the person blurred too
    click(qtbot, win, 50, 95)
    assert win.statusBar().currentMessage() == "keeping person"
    assert PERSON in win.classes.checked()  # the classes list shows the choice
    assert win.pipeline.style.matte.keep == win.classes.checked()  # and the effect keeps it
    wait_for(qtbot, win, lambda c: untouched(c, RED) == 1.0)

    click(qtbot, win, 50, 95)
    assert win.statusBar().currentMessage() == "released person"
    assert PERSON not in win.classes.checked()
    assert PERSON not in win.pipeline.style.matte.keep
    wait_for(qtbot, win, lambda c: untouched(c, RED) < 0.05)


@pytest.mark.parametrize("how", ["escape", "menu"])
def test_escape_or_the_menu_releases_everything_the_clicks_kept(qtbot, win, how):
    win.classes.set_checked(PERSON, False)
    click(qtbot, win, 50, 95)
    click(qtbot, win, 175, 75)
    qtbot.waitUntil(lambda: win.keep.state.text() ==
                    "Kept by clicks: person, the clicked region (Esc releases)", timeout=20000)
    wait_for(qtbot, win, lambda c: untouched(c, BOX) == 1.0 and untouched(c, RED) == 1.0)
    if how == "escape":
        qtbot.keyClick(win, Qt.Key.Key_Escape)
    else:
        win.actions_by_name["Release kept objects"].trigger()
    assert win.statusBar().currentMessage() == "released every clicked object"
    assert PERSON not in win.classes.checked() and win.pipeline.kept.count == 0
    assert win.keep.state.text() == HINT
    wait_for(qtbot, win, lambda c: untouched(c, BOX) < 0.05 and untouched(c, RED) < 0.05)


def test_a_click_on_the_bars_does_nothing(qtbot, win):
    view = win.view
    left, top, width, height = picture_rect(W, H, view.width(), view.height())
    assert left > 1 or top > 1  # the window's view is not 4:3: there are bars
    bar = QPoint(left // 2, view.height() // 2) if left > 1 else QPoint(view.width() // 2, top // 2)
    win.say("ready", 0)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=bar)
    assert win.statusBar().currentMessage() == "ready"
    assert PERSON in win.classes.checked() and win.pipeline.kept.count == 0


def test_under_the_overlay_a_kept_region_says_where_it_will_show(qtbot, win):
    win.effects.set_effect("overlay")
    click(qtbot, win, 175, 75)
    qtbot.waitUntil(lambda: win.statusBar().currentMessage().startswith(
        "keeping the clicked region"), timeout=20000)
    assert win.statusBar().currentMessage() == ("keeping the clicked region (an overlay has no "
                                                "front: it shows with a background effect)")
    win.effects.set_effect("blur")  # the region was kept all along
    wait_for(qtbot, win, lambda c: untouched(c, BOX) == 1.0)


def test_in_fullscreen_the_first_esc_leaves_it_and_the_next_releases(qtbot, win):
    win.classes.set_checked(PERSON, False)
    click(qtbot, win, 50, 95)
    win.toggle_fullscreen()
    qtbot.keyClick(win, Qt.Key.Key_Escape)
    assert not win.isFullScreen() and PERSON in win.classes.checked()
    qtbot.keyClick(win, Qt.Key.Key_Escape)
    assert PERSON not in win.classes.checked()
