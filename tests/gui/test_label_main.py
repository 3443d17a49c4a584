"""The live window's way into labelling: one File menu action opens the labelling window,
and a model trained there is loaded as the live model."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import QSettings

from livesegment.gui.label.window import LabelWindow
from tests.gui.test_window import _window


@pytest.fixture
def settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def test_label_pictures_or_video_opens_the_labelling_window(qtbot, settings, monkeypatch):
    win = _window(qtbot, settings)
    loaded = []
    monkeypatch.setattr(win, "open_model_file", loaded.append)
    win.actions_by_name["Label pictures or video"].trigger()
    labelling = win.label_window
    qtbot.addWidget(labelling)
    assert isinstance(labelling, LabelWindow) and labelling.isVisible()
    assert labelling.model == win.models.model_name()
    assert "Open pictures or a video" in labelling.canvas._message
    labelling.model_ready.emit("/models/parts.pt")  # "Use as live model" in its training dialog
    assert loaded == ["/models/parts.pt"]


def test_asking_again_brings_the_same_labelling_window_forward(qtbot, settings):
    win = _window(qtbot, settings)
    win.actions_by_name["Label pictures or video"].trigger()
    first = win.label_window
    qtbot.addWidget(first)
    win.actions_by_name["Label pictures or video"].trigger()
    assert win.label_window is first and first.isVisible()
