"""The small panels on their own: what each control reports, with qtbot."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from livesegment.core.models.zoo import get_spec
from livesegment.gui.capture import CaptureControls
from livesegment.gui.panels import OPEN_VIDEO, ClassesPanel, ModelPanel, SourcePanel
from tests.conftest import PERSON, read_clip


def test_source_panel_lists_cameras_and_files_once(qtbot):
    panel = SourcePanel()
    qtbot.addWidget(panel)
    panel.add_cameras([0, 2])
    panel.add_cameras([0])
    panel.show_source("/videos/a.mp4")
    panel.show_source("/videos/a.mp4")
    items = [panel.source_box.itemText(i) for i in range(panel.source_box.count())]
    assert items == ["Camera 0", "Camera 2", "Sample clip", "a.mp4", OPEN_VIDEO]
    assert panel.source_box.currentText() == "a.mp4"
    with qtbot.waitSignal(panel.chosen) as blocker:
        panel.source_box.activated.emit(1)
    assert blocker.args == ["2"]
    with qtbot.waitSignal(panel.open_video_requested):
        panel.source_box.activated.emit(4)


def test_model_panel_offers_only_sizes_the_model_accepts(qtbot):
    panel = ModelPanel()
    qtbot.addWidget(panel)
    coarse = replace(get_spec("espnetv2-voc"), size_multiple=256, default_size=512)
    panel.fill_sizes(coarse, 768)
    sizes = [panel.size_box.itemData(i) for i in range(panel.size_box.count())]
    assert sizes == ["auto", 256, 512, 768, 1024] and panel.size() == 768
    assert panel.size_box.itemText(2) == "512 (default)"
    panel.fill_sizes(coarse, 320)  # not offered: the model's default instead
    assert panel.size() == 512 and not panel.auto_size()
    panel.fill_sizes(coarse, "auto")
    assert panel.auto_size() and panel.size() is None
    panel.fill_sizes(get_spec("mediapipe-selfie"), "auto")  # a fixed input: no "auto"
    assert not panel.auto_size() and panel.size() == 256 and panel.size_box.count() == 1


def test_model_panel_offers_engines_precision_and_paces(qtbot):
    panel = ModelPanel()
    qtbot.addWidget(panel)
    engines = [panel.backend_box.itemData(i) for i in range(panel.backend_box.count())]
    assert engines == ["torch", "onnxruntime"] and panel.backend() == "torch"
    panel.device_box.setCurrentText("cpu")
    assert panel.precision.text() == "float32 (torch)"
    panel.backend_box.setCurrentIndex(1)
    assert panel.backend() == "onnxruntime" and panel.precision.text() == "float32 (onnxruntime)"
    with qtbot.waitSignal(panel.pace_changed):
        panel.pace_box.activated.emit(1)
    panel.set_pace("camera")
    assert panel.pace() == "camera"
    panel.set_pace("newest")
    assert panel.pace() == "newest"


def test_classes_panel_buttons(qtbot):
    panel = ClassesPanel()
    qtbot.addWidget(panel)
    assert panel.selection() is None  # before a model: every class
    spec = get_spec("espnetv2-voc")
    panel.set_model(spec, [PERSON])
    assert panel.selection() == frozenset({PERSON})
    with qtbot.waitSignal(panel.changed):
        panel.none_button.click()
    assert panel.checked() == frozenset()
    panel.all_button.click()
    assert panel.checked() == frozenset(range(1, 21))
    panel.usual_button.click()
    assert panel.checked() == frozenset(spec.class_id(n) for n in spec.default_classes)


def test_capture_controls_snapshot_and_record_keep_the_button_in_step(qtbot, tmp_path):
    frame = np.full((48, 64, 3), 100, np.uint8)
    shown = {"frame": None}
    controls = CaptureControls(lambda: shown["frame"])
    qtbot.addWidget(controls)
    with qtbot.waitSignal(controls.message) as blocker:
        assert controls.snapshot(tmp_path / "a.png") is None
    assert "Nothing to snapshot" in blocker.args[0]
    shown["frame"] = frame
    assert controls.snapshot(tmp_path / "a.png").is_file()
    assert controls.set_recording(True, tmp_path / "rec.mp4") == tmp_path / "rec.mp4"
    assert controls.record_button.isChecked()
    for i in range(5):
        controls.add(frame, i * 0.04)
    controls.record_button.toggle()  # the R key / the button stops it
    assert not controls.record_button.isChecked() and controls.recorder is None
    times, pictures = read_clip(tmp_path / "rec.mp4")
    assert len(pictures) == 5 and np.allclose(times, [0, 0.04, 0.08, 0.12, 0.16], atol=2e-3)
