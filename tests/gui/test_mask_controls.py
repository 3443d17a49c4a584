"""The smoothing slider and the sharp-edges checkbox, alone and in the window."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import QSettings

from livesegment.core.masks.smoothing import MaskOptions
from livesegment.gui.mask_controls import MaskControls
from tests.gui.test_window import _window


@pytest.fixture
def settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.mark.parametrize("value, refine, expected", [
    (0, False, MaskOptions(0.0, False)),
    (35, True, MaskOptions(0.35, True)),
    (100, True, MaskOptions(1.0, True)),
])
def test_slider_and_checkbox_emit_the_options(qtbot, value, refine, expected):
    controls = MaskControls(MaskOptions(0.9, not refine))
    qtbot.addWidget(controls)
    emitted = []
    controls.changed.connect(emitted.append)
    controls.refine.setChecked(refine)
    controls.slider.setValue(value)
    assert emitted[-1] == expected and controls.options() == expected
    assert controls.value_label.text() == f"{value / 100:.2f}"


def test_restoring_options_emits_nothing(qtbot):
    controls = MaskControls()
    qtbot.addWidget(controls)
    emitted = []
    controls.changed.connect(emitted.append)
    controls.set_options(MaskOptions(0.2, False))
    assert emitted == [] and controls.options() == MaskOptions(0.2, False)


def test_window_controls_reach_the_live_pipeline_and_persist(qtbot, settings):
    win = _window(qtbot, settings)
    assert win.pipeline.masks == MaskOptions()  # on by default
    win.mask_controls.slider.setValue(40)
    win.mask_controls.refine.setChecked(False)
    assert win.pipeline.masks == MaskOptions(0.4, False)
    shown = win.last_shown.frame.index
    qtbot.waitUntil(lambda: win.last_shown.frame.index > shown + 2, timeout=5000)
    win.close()
    again = _window(qtbot, settings)
    assert again.mask_controls.options() == MaskOptions(0.4, False)
    assert again.pipeline.masks == MaskOptions(0.4, False)
    again.close()
