"""File > Open model…: a model made by ``livesegment train`` in the live window."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PyQt6.QtCore import QSettings

from livesegment.core.models.catalog import DEFAULT_MODEL
from livesegment.core.models.model_file import ModelCard, pack
from livesegment.gui.window import MainWindow
from livesegment.io.live_source import SyntheticSource
from tests.conftest import fake_segmenter

CLASSES = ("background", "scratch", "dent")


@pytest.fixture
def settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def model_file(tmp_path) -> Path:
    card = ModelCard(title="parts (3 classes)", architecture="espnetv2", decoder_projection=10,
                     base="espnetv2-voc", classes=CLASSES,
                     colours=((0, 0, 0), (255, 0, 0), (0, 0, 255)), background=0,
                     mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), size=96, size_multiple=32,
                     licence="weights derived from ESPNetv2 (MIT)", training={}, validation={})
    torch.manual_seed(0)
    path = tmp_path / "parts.pt"
    torch.save(pack(card, card.build().state_dict()), path)
    return path


def _window(qtbot, settings, model=None) -> MainWindow:
    """A window whose bundled models are fakes and whose model files load for real."""
    from livesegment.core.segmenter import Segmenter

    def factory(name, device, size, backend="torch"):
        if Path(name).suffix == ".pt":
            return Segmenter.create(name, "cpu", size)
        return fake_segmenter()

    win = MainWindow("synthetic", model, segmenter_factory=factory, probe=False,
                     settings=settings,
                     source_factory=lambda s, r=None: SyntheticSource(160, 120, fps=30))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.last_shown is not None, timeout=30000)
    return win


def test_open_model_lists_the_file_loads_it_and_a_new_window_keeps_it(qtbot, settings,
                                                                       model_file):
    win = _window(qtbot, settings)
    assert win.actions_by_name["Open model"].shortcut().toString() == "Ctrl+M"
    win.open_model_file(str(model_file))
    qtbot.waitUntil(lambda: win.segmenter.spec.name == str(model_file), timeout=20000)
    assert win.models.model_box.currentText() == "parts.pt (file)"
    assert win.models.model_name() == str(model_file)
    listed = [win.classes.list.item(i).text() for i in range(win.classes.list.count())]
    assert [name for name in CLASSES if any(name in text for text in listed)] == ["scratch",
                                                                                "dent"]
    # the frames in flight at the switch were painted by the old model; then the file's
    qtbot.waitUntil(lambda: win.last_shown.labels.max() < len(CLASSES), timeout=30000)
    for _ in range(3):
        before = win.last_shown.frame.index
        qtbot.waitUntil(lambda: win.last_shown.frame.index > before, timeout=30000)
        assert win.last_shown.labels.max() < len(CLASSES)
    win.close()

    again = _window(qtbot, settings)
    qtbot.waitUntil(lambda: again.segmenter.spec.name == str(model_file), timeout=20000)
    assert again.models.model_box.currentText() == "parts.pt (file)"


def test_a_file_that_is_no_model_is_refused_and_the_model_kept(qtbot, settings, tmp_path):
    win = _window(qtbot, settings)
    qtbot.waitUntil(lambda: win.segmenter is not None, timeout=30000)
    kept = win.segmenter
    bogus = tmp_path / "notes.pt"
    bogus.write_text("not a model")
    win.open_model_file(str(bogus))
    message = win.statusBar().currentMessage()
    assert "cannot load" in message and "notes.pt" in message and "kept" in message
    assert win.segmenter is kept and win.models.model_name() == kept.spec.name
    assert win.models.model_box.findData(str(bogus)) < 0  # not left on the list
    before = win.last_shown.frame.index
    qtbot.waitUntil(lambda: win.last_shown.frame.index > before, timeout=5000)


def test_a_stored_model_file_that_has_gone_falls_back_to_the_default(qtbot, settings,
                                                                     tmp_path):
    settings.setValue("model", str(tmp_path / "gone.pt"))
    win = _window(qtbot, settings)
    assert win.models.model_name() == DEFAULT_MODEL
