"""The effects panel on its own (what each control makes) and in the window (what the next
frames show), driven through qtbot."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PyQt6.QtCore import QSettings

from livesegment.core.compose.effects import AlphaEffect, BlurEffect, Chain, ReplaceEffect
from livesegment.core.compose.overlay import OverlayStyle
from livesegment.core.models.zoo import get_spec
from livesegment.gui.panels import EffectsPanel
from tests.conftest import PERSON
from tests.gui.test_window import _window

VOC = get_spec("espnetv2-voc")


def _frame_after_change(qtbot, win):
    """The first frame captured after now: composed with whatever was just chosen (a frame
    captured earlier may still wait in the result slot, composed the old way)."""
    import time

    changed_at = time.monotonic()
    qtbot.waitUntil(lambda: win.last_shown.frame.captured_at > changed_at, timeout=5000)
    return win.last_shown


@pytest.fixture
def settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def panel(qtbot) -> EffectsPanel:
    widget = EffectsPanel()
    qtbot.addWidget(widget)
    return widget


@pytest.mark.parametrize("name, kind", [("overlay", OverlayStyle), ("blur", BlurEffect),
                                        ("color", ReplaceEffect), ("alpha", AlphaEffect),
                                        ("replace", ReplaceEffect)])
def test_each_effect_choice_makes_its_effect(panel, qtbot, name, kind):
    with qtbot.waitSignal(panel.changed) if name != "overlay" else _nothing():
        panel.set_effect(name)
    look = panel.look(VOC, frozenset({PERSON}))
    assert isinstance(look, kind)
    if kind is not OverlayStyle:
        assert look.matte.keep == frozenset({PERSON})  # the selection is what stays in front


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_strength_feather_and_enabled_controls(panel):
    panel.set_effect("blur")
    panel.strength.setValue(25)
    panel.feather.setValue(6)
    panel.grow.setValue(-2)
    panel.threshold.setValue(0.25)
    look = panel.look(VOC, None)
    assert look.strength == 25.0 and look.matte.feather == 6
    assert look.matte.grow == -2 and look.matte.threshold == 0.25
    assert look.matte.keep == frozenset(range(1, 21))  # every class but the background
    assert panel.strength.isEnabled() and not panel.opacity.isEnabled()
    panel.set_effect("overlay")
    assert panel.opacity.isEnabled() and not panel.strength.isEnabled()
    assert not panel.feather.isEnabled()


def test_background_picture_replaces_and_a_bad_one_is_reported(panel, qtbot, tmp_path):
    picture = tmp_path / "beach.png"
    cv2.imwrite(str(picture), np.full((30, 40, 3), (10, 20, 30), np.uint8))
    assert panel.set_background(str(picture))
    assert panel.effect_name() == "replace" and panel.background_label.text() == "beach.png"
    look = panel.look(VOC, None)
    assert (look.backdrop.picture_at(0.0, (6, 8)) == (10, 20, 30)).all()
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a picture")
    with qtbot.waitSignal(panel.error) as blocker:
        assert not panel.set_background(str(bad))
    assert "cannot read background" in blocker.args[0] and "broken.jpg" in blocker.args[0]
    assert panel.look(VOC, None).backdrop is look.backdrop  # the previous one stays


def test_an_export_gets_its_own_background_video_reader(panel, tmp_path):
    from tests.conftest import make_clip

    clip = tmp_path / "waves.mp4"
    make_clip(clip, frames=3, size=(24, 32))
    assert panel.set_background(str(clip))
    live = panel.look(VOC, None)
    assert panel.look(VOC, None).backdrop is live.backdrop
    export = panel.look(VOC, None, own_background=True)
    assert export.backdrop is not live.backdrop
    assert np.array_equal(export.backdrop.picture_at(0.05, (24, 32)),
                          live.backdrop.picture_at(0.05, (24, 32)))


def test_colour_and_overlay_on_top(panel, qtbot):
    assert panel.set_colour("#ff0000") and panel.effect_name() == "color"
    look = panel.look(VOC, None)
    assert (look.backdrop.picture_at(0.0, (2, 2)) == (0, 0, 255)).all()
    with qtbot.waitSignal(panel.error):
        assert not panel.set_colour("reddish")
    panel.overlay_on_top.setChecked(True)
    chain = panel.look(VOC, None)
    assert isinstance(chain, Chain) and isinstance(chain.effects[0], ReplaceEffect)
    assert panel.opacity.isEnabled()


def test_window_blur_keeps_the_person_and_blurs_the_rest(qtbot, settings):
    win = _window(qtbot, settings)
    win.effects.set_effect("blur")
    win.effects.strength.setValue(8)
    shown = _frame_after_change(qtbot, win)
    person = shown.labels == PERSON
    assert person.any()
    assert np.array_equal(shown.image[person], shown.frame.bgr[person])
    rest = ~cv2.dilate(person.astype(np.uint8), np.ones((9, 9))).astype(bool)
    assert not np.array_equal(shown.image[rest], shown.frame.bgr[rest])


def test_window_alpha_shows_bgra_and_snapshots_keep_it(qtbot, settings, tmp_path):
    win = _window(qtbot, settings)
    win.effects.set_effect("alpha")
    shown = _frame_after_change(qtbot, win)
    qtbot.waitUntil(lambda: win.view.current_frame().shape[2] == 4, timeout=5000)
    person = shown.labels == PERSON
    assert shown.image.shape[2] == 4
    assert (shown.image[person, 3] == 255).all() and (shown.image[~person, 3] == 0).all()
    png = win.snapshot(tmp_path / "cut.png")
    assert cv2.imread(str(png), cv2.IMREAD_UNCHANGED).shape[2] == 4
    assert win.set_recording(True, tmp_path / "rec.mp4") is not None
    qtbot.wait(300)
    assert win.set_recording(False) is not None  # recorded without the alpha channel


def test_effect_settings_persist(qtbot, settings):
    win = _window(qtbot, settings)
    win.effects.set_effect("blur")
    win.effects.strength.setValue(33)
    win.effects.feather.setValue(4)
    win.effects.grow.setValue(3)
    win.close()
    again = _window(qtbot, settings)
    assert again.effects.effect_name() == "blur"
    assert again.effects.strength.value() == 33 and again.effects.feather.value() == 4
    assert again.effects.grow.value() == 3
    assert isinstance(again.pipeline.style, BlurEffect)
