"""The window's control panels, one small widget each (napari-style docks): source, model,
classes and the effect. A panel owns its controls and says what the user chose through one
signal and a few accessors; it never touches the pipeline. The window wires them together.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PyQt6.QtCore import QSettings, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout,
    QWidget,
)

from livesegment.core.device import available_devices
from livesegment.core.overlay import OverlayStyle
from livesegment.core.zoo import REGISTRY, ModelSpec
from livesegment.gui.widgets import ClassList
from livesegment.io.sample import sample_clip

SIZES = (128, 192, 256, 320, 384, 448, 512, 640, 768, 1024)
OPEN_VIDEO = "Open video…"
RESOLUTIONS = (None, (640, 480), (1280, 720), (1920, 1080))


class SourcePanel(QWidget):
    """Where frames come from: cameras found, files opened, and the camera resolution."""

    chosen = pyqtSignal(str)           # a camera index, file or URL to open
    open_video_requested = pyqtSignal()
    resolution_changed = pyqtSignal()

    def __init__(self) -> None:
        super().__init__()
        self.source_box = QComboBox()
        self.source_box.addItem("Sample clip", str(sample_clip()))
        self.source_box.addItem(OPEN_VIDEO)
        self.resolution_box = QComboBox()
        for res in RESOLUTIONS:
            self.resolution_box.addItem("Camera default" if res is None else f"{res[0]}x{res[1]}",
                                        res)
        form = QFormLayout(self)
        form.addRow("Source", self.source_box)
        form.addRow("Resolution", self.resolution_box)
        self.source_box.activated.connect(self._activated)
        self.resolution_box.activated.connect(lambda _i: self.resolution_changed.emit())

    def resolution(self) -> tuple[int, int] | None:
        return self.resolution_box.currentData()

    def add_cameras(self, indices: Iterable[int]) -> None:
        for index in indices:
            label = f"Camera {index}"
            if self.source_box.findText(label) < 0:
                self.source_box.insertItem(self.source_box.count() - 1, label, str(index))

    def show_source(self, spec: str) -> None:
        """Lists ``spec`` (once) and selects it."""
        box = self.source_box
        if box.findData(spec) < 0 and box.findText(spec) < 0:
            box.insertItem(box.count() - 1, Path(spec).name, spec)
        box.setCurrentIndex(max(box.findData(spec), box.findText(spec)))

    def _activated(self, index: int) -> None:
        if self.source_box.itemText(index) == OPEN_VIDEO:
            self.open_video_requested.emit()
        else:
            self.chosen.emit(self.source_box.itemData(index) or self.source_box.itemText(index))


class ModelPanel(QWidget):
    """Which model, on which device, at which inference size."""

    model_changed = pyqtSignal()  # model or device: a reload
    size_changed = pyqtSignal()

    def __init__(self) -> None:
        super().__init__()
        self.model_box = QComboBox()
        for spec in REGISTRY.values():
            self.model_box.addItem(spec.name)
        self.device_box = QComboBox()
        self.device_box.addItems(available_devices())
        self.size_box = QComboBox()
        form = QFormLayout(self)
        form.addRow("Model", self.model_box)
        form.addRow("Device", self.device_box)
        form.addRow("Size", self.size_box)
        self.model_box.activated.connect(lambda _i: self.model_changed.emit())
        self.device_box.activated.connect(lambda _i: self.model_changed.emit())
        self.size_box.activated.connect(lambda _i: self.size_changed.emit())

    def fill_sizes(self, spec: ModelSpec, wanted: int | None = None) -> None:
        """The sizes this model accepts, ``wanted`` (or its default) selected."""
        self.size_box.clear()
        for size in SIZES:
            if size % spec.size_multiple == 0:
                label = f"{size}" + (" (default)" if size == spec.default_size else "")
                self.size_box.addItem(label, size)
        index = self.size_box.findData(wanted or spec.default_size)
        self.size_box.setCurrentIndex(max(0, index))

    def model_name(self) -> str:
        return self.model_box.currentText()

    def device(self) -> str:
        return self.device_box.currentText()

    def size(self) -> int | None:
        return self.size_box.currentData()


class ClassesPanel(QWidget):
    """The model's classes to paint (or keep in front, for the background effects)."""

    changed = pyqtSignal()

    def __init__(self) -> None:
        super().__init__()
        self.list = ClassList()
        self.all_button = QPushButton("All")
        self.none_button = QPushButton("None")
        self.usual_button = QPushButton("Usual")
        self.mask_only = QCheckBox("Mask only")
        self._spec: ModelSpec | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        buttons = QHBoxLayout()
        for b in (self.all_button, self.none_button, self.usual_button):
            buttons.addWidget(b)
        layout.addLayout(buttons)
        layout.addWidget(self.mask_only)
        self.list.selection_changed.connect(lambda _ids: self.changed.emit())
        self.mask_only.toggled.connect(lambda _on: self.changed.emit())
        self.all_button.clicked.connect(self._check_all)
        self.none_button.clicked.connect(lambda: self.check_only(()))
        self.usual_button.clicked.connect(self._check_usual)

    def set_model(self, spec: ModelSpec, checked: Iterable[int] | None = None) -> None:
        self._spec = spec
        self.list.set_model(spec, checked)

    def selection(self) -> frozenset[int] | None:
        """The checked ids; ``None`` before a model has filled the list (every class)."""
        return self.list.checked() if self.list.count() else None

    def checked(self) -> frozenset[int]:
        return self.list.checked()

    def check_only(self, ids: Iterable[int]) -> None:
        self.list.check_only(ids)

    def set_checked(self, class_id: int, on: bool) -> None:
        self.list.set_checked(class_id, on)

    def _check_all(self) -> None:
        if self._spec is not None:
            self.check_only(range(self._spec.num_classes))

    def _check_usual(self) -> None:
        if self._spec is not None:
            self.check_only(self._spec.class_id(n) for n in self._spec.default_classes)


class EffectsPanel(QWidget):
    """What is drawn: the overlay's opacity."""

    changed = pyqtSignal()

    def __init__(self) -> None:
        super().__init__()
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity_label = QLabel()
        row = QHBoxLayout()
        row.addWidget(self.opacity)
        row.addWidget(self.opacity_label)
        form = QFormLayout(self)
        form.addRow("Opacity", row)
        self.opacity.valueChanged.connect(self._opacity_changed)

    def step_opacity(self, percent: int) -> None:
        self.opacity.setValue(self.opacity.value() + percent)

    def look(self, spec: ModelSpec, selection: frozenset[int] | None,
             mask_only: bool = False) -> OverlayStyle:
        """The immutable style for the pipeline from the panel's current settings."""
        return OverlayStyle(spec.palette, spec.background, self.opacity.value() / 100,
                            selection, mask_only)

    def restore(self, settings: QSettings) -> None:
        self.opacity.setValue(int(settings.value("opacity", 50, int)))
        self._opacity_changed(self.opacity.value())

    def save(self, settings: QSettings) -> None:
        settings.setValue("opacity", self.opacity.value())

    def _opacity_changed(self, value: int) -> None:
        self.opacity_label.setText(f"{value}%")
        self.changed.emit()
