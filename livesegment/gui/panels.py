"""The window's control panels, one small widget each (napari-style docks): source, model,
classes and the effect. A panel owns its controls and says what the user chose through one
signal and a few accessors; it never touches the pipeline. The window wires them together.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from PyQt6.QtCore import QSettings, Qt, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QCheckBox, QColorDialog, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout,
    QLabel, QPushButton, QSlider, QSpinBox, QVBoxLayout, QWidget,
)

from livesegment.core.models.catalog import BACKENDS
from livesegment.core.models.device import available_devices, inference_dtype, resolve_device
from livesegment.core.compose.effects import (
    AlphaEffect, Backdrop, BlurEffect, Chain, Effect, Matte, OverlayEffect, ReplaceEffect,
    parse_colour, solid,
)
from livesegment.core.compose.overlay import OverlayStyle
from livesegment.core.models.zoo import DEFAULT_MODEL, REGISTRY, ModelSpec, get_spec
from livesegment.errors import LivesegmentError
from livesegment.gui.widgets import ClassList
from livesegment.io.backgrounds import open_backdrop as _open_backdrop
from livesegment.io.sample import sample_clip

SIZES = (128, 192, 256, 320, 384, 448, 512, 640, 768, 1024)
OPEN_VIDEO = "Open video…"
SAMPLE = "Sample clip"
RESOLUTIONS = (None, (640, 480), (1280, 720), (1920, 1080))


class SourcePanel(QWidget):
    """Where frames come from: cameras found, files opened, and the camera resolution."""

    chosen = pyqtSignal(str)           # a camera index, file or URL to open
    open_video_requested = pyqtSignal()
    resolution_changed = pyqtSignal()

    def __init__(self) -> None:
        super().__init__()
        self.source_box = QComboBox()
        self.source_box.addItem(SAMPLE, str(sample_clip()))
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
            if self.source_box.findText(label) < 0:  # cameras first, then the sample, files
                self.source_box.insertItem(self.source_box.findText(SAMPLE), label, str(index))

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
    """Which model, on which device and engine, at which inference size, shown at which pace."""

    model_changed = pyqtSignal()  # model, device or engine: a reload
    size_changed = pyqtSignal()
    pace_changed = pyqtSignal()

    def __init__(self) -> None:
        super().__init__()
        self.model_box = QComboBox()
        for spec in REGISTRY.values():
            self.model_box.addItem(spec.name, spec.name)
        self.device_box = QComboBox()
        self.device_box.addItems(available_devices())
        self.backend_box = QComboBox()
        for name in BACKENDS:
            self.backend_box.addItem(name, name)
        if importlib.util.find_spec("onnxruntime") is None:  # offered, but say what it needs
            item = self.backend_box.model().item(BACKENDS.index("onnxruntime"))
            item.setEnabled(False)
            item.setToolTip("needs livesegment[onnx]: pip install 'livesegment[onnx]'")
        self.precision = QLabel()
        self.size_box = QComboBox()
        self.pace_box = QComboBox()
        self.pace_box.addItem("Newest result", "newest")
        self.pace_box.addItem("Camera pace (newest mask)", "camera")
        self.pace_box.setToolTip("Camera pace shows every camera frame, painted with the "
                                 "newest mask; the status bar gives the mask's age")
        form = QFormLayout(self)
        for label, widget in (("Model", self.model_box), ("Device", self.device_box),
                              ("Engine", self.backend_box), ("Precision", self.precision),
                              ("Size", self.size_box), ("Display", self.pace_box)):
            form.addRow(label, widget)
        for box in (self.model_box, self.device_box, self.backend_box):
            box.activated.connect(lambda _i: self.model_changed.emit())
        self.device_box.currentTextChanged.connect(lambda _t: self._show_precision())
        self.backend_box.currentTextChanged.connect(lambda _t: self._show_precision())
        self.size_box.activated.connect(lambda _i: self.size_changed.emit())
        self.pace_box.activated.connect(lambda _i: self.pace_changed.emit())
        self._show_precision()

    def fill_sizes(self, spec: ModelSpec, wanted: int | str | None = None) -> None:
        """The sizes this model accepts (and "auto" where it takes any), ``wanted`` (or its
        default) selected."""
        self.size_box.clear()
        if spec.fixed_input is None:
            self.size_box.addItem("auto (keeps up with the camera)", "auto")
        for size in SIZES if spec.fixed_input is None else (spec.default_size,):
            if size % spec.size_multiple == 0 or size == spec.default_size:
                label = f"{size}" + (" (default)" if size == spec.default_size else "")
                self.size_box.addItem(label, size)
        index = self.size_box.findData(wanted or spec.default_size)
        if index < 0:  # a stored size this model does not take: its default
            index = self.size_box.findData(spec.default_size)
        self.size_box.setCurrentIndex(max(0, index))

    def model_name(self) -> str:
        """The chosen model: a registry name, or a trained model file's path."""
        return self.model_box.currentData()

    def select_model(self, name: str) -> None:
        """Selects ``name``; a model file not listed yet joins the list, shown by its name."""
        index = self.model_box.findData(name)
        if index < 0:
            self.model_box.addItem(f"{Path(name).name} (file)", name)
            index = self.model_box.count() - 1
            self.model_box.setItemData(index, name, Qt.ItemDataRole.ToolTipRole)
        self.model_box.setCurrentIndex(index)

    def forget_model(self, name: str) -> None:
        """Takes a model file that could not be loaded off the list (bundled models stay)."""
        index = self.model_box.findData(name)
        if index >= 0 and name not in REGISTRY:
            self.model_box.removeItem(index)

    def device(self) -> str:
        return self.device_box.currentText()

    def backend(self) -> str:
        return self.backend_box.currentData()

    def size(self) -> int | None:
        """The chosen size; ``None`` for "auto" (which starts from the model's own)."""
        data = self.size_box.currentData()
        return None if data == "auto" else data

    def auto_size(self) -> bool:
        return self.size_box.currentData() == "auto"

    def pace(self) -> str:
        return self.pace_box.currentData()

    def set_pace(self, pace: str) -> None:
        self.pace_box.setCurrentIndex(max(0, self.pace_box.findData(pace)))

    def restore(self, settings: QSettings, model: str | None = None) -> None:
        """The last run's choices (``model`` instead of the stored one when given); a stored
        value this machine or model does not offer leaves the default."""
        name = model or settings.value("model", DEFAULT_MODEL, str)
        self.select_model(name if name in REGISTRY or Path(name).is_file() else DEFAULT_MODEL)
        device = settings.value("device", "auto", str)
        if device in available_devices():
            self.device_box.setCurrentText(device)
        backend = self.backend_box.findData(settings.value("backend", "torch", str))
        if backend >= 0 and self.backend_box.model().item(backend).isEnabled():
            self.backend_box.setCurrentIndex(backend)
        self.set_pace(settings.value("pace", "newest", str))
        auto = settings.value("auto_size", False, bool)
        try:
            spec = get_spec(self.model_name())
        except LivesegmentError:  # a model file damaged since: loading it will say why
            spec = get_spec(DEFAULT_MODEL)
        self.fill_sizes(spec, "auto" if auto else settings.value("size", 0, int) or None)

    def save(self, settings: QSettings) -> None:
        settings.setValue("model", self.model_name())
        settings.setValue("device", self.device())
        settings.setValue("size", self.size() or 0)
        settings.setValue("auto_size", self.auto_size())
        settings.setValue("backend", self.backend())
        settings.setValue("pace", self.pace())

    def _show_precision(self) -> None:
        """What the engine runs in: half precision on CUDA, float32 on the CPU (int8 was
        measured and not kept: BENCHMARKS.md)."""
        try:
            dtype = inference_dtype(resolve_device(self.device()))
        except LivesegmentError:
            dtype = None
        self.precision.setText({None: "-", torch.float16: "float16 (CUDA)"}.get(
            dtype, f"float32 ({self.backend()})"))


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

    def restore(self, settings: QSettings, spec: ModelSpec) -> None:
        """Lists ``spec``'s classes as they were last left for that model (all the first time)."""
        stored = settings.value(f"classes/{spec.name}", None)
        self.set_model(spec, [int(i) for i in stored] if isinstance(stored, list) else None)

    def save(self, settings: QSettings) -> None:
        if self._spec is not None:  # the classes kept are the listed model's
            settings.setValue(f"classes/{self._spec.name}", sorted(self.checked()))

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


EFFECT_TITLES = {"overlay": "Overlay", "blur": "Blur background",
                 "replace": "Replace background", "color": "Colour background (green screen)",
                 "alpha": "Transparent background"}
BACKGROUND_FILTER = ("Pictures and videos (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff *.mp4 "
                     "*.mkv *.mov *.avi *.webm *.m4v *.gif);;All files (*)")
DEFAULT_COLOUR = "#00b140"


class EffectsPanel(QWidget):
    """What is drawn: the overlay (opacity), or the background blurred, replaced by a picture
    or video, a plain colour, or made transparent; the edge's softness; the overlay on top."""

    changed = pyqtSignal()
    error = pyqtSignal(str)

    def __init__(self, open_backdrop: Callable[[str], Backdrop] | None = None) -> None:
        super().__init__()
        self._open_backdrop = open_backdrop or _open_backdrop
        self.effect_box = QComboBox()
        for name, title in EFFECT_TITLES.items():
            self.effect_box.addItem(title, name)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity_label = QLabel()
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(1, 60)
        self.strength.setValue(15)
        self.strength_label = QLabel()
        self.feather = QSpinBox()
        self.feather.setRange(0, 40)
        self.feather.setSuffix(" px")
        self.grow = QSpinBox()
        self.grow.setRange(-30, 30)
        self.grow.setSuffix(" px")
        self.grow.setToolTip("Move the edge out (negative: in)")
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 0.95)
        self.threshold.setSingleStep(0.05)
        self.threshold.setToolTip("Clear the faint outer part of a soft edge")
        self.overlay_on_top = QCheckBox("Overlay on top")
        self.background_button = QPushButton("Picture or video…")
        self.colour_button = QPushButton("Colour…")
        self.background_label = QLabel(DEFAULT_COLOUR)
        self.background_spec: str | None = None   # the chosen picture/video, or None
        self.colour = DEFAULT_COLOUR
        self._backdrop: Backdrop | None = None
        form = QFormLayout(self)
        form.addRow("Effect", self.effect_box)
        form.addRow("Opacity", _row(self.opacity, self.opacity_label))
        form.addRow("Blur", _row(self.strength, self.strength_label))
        form.addRow("Soft edge", self.feather)
        form.addRow("Grow edge", self.grow)
        form.addRow("Threshold", self.threshold)
        form.addRow("Background", _row(self.background_button, self.colour_button))
        form.addRow("", self.background_label)
        form.addRow("", self.overlay_on_top)
        self.opacity.valueChanged.connect(self._opacity_changed)
        self.strength.valueChanged.connect(self._strength_changed)
        self.effect_box.currentIndexChanged.connect(lambda _i: self._effect_changed())
        for box in (self.feather, self.grow, self.threshold):
            box.valueChanged.connect(lambda _v: self.changed.emit())
        self.overlay_on_top.toggled.connect(lambda _on: self._effect_changed())
        self.background_button.clicked.connect(self.choose_background)
        self.colour_button.clicked.connect(self.choose_colour)
        self._strength_changed(self.strength.value())
        self._enable()

    # -- what the user chose ------------------------------------------------------------------
    def effect_name(self) -> str:
        return self.effect_box.currentData()

    def set_effect(self, name: str) -> None:
        self.effect_box.setCurrentIndex(max(0, self.effect_box.findData(name)))

    def look(self, spec: ModelSpec, selection: frozenset[int] | None,
             mask_only: bool = False, own_background: bool = False) -> OverlayStyle | Effect:
        """The immutable style or effect for the pipeline from the panel's current settings;
        the kept classes are ``selection`` (every class but the background when ``None``).

        ``own_background``: a fresh reader of the background video, for an export running
        beside the live view (sharing one, each would rewind it for the other).
        """
        style = OverlayStyle(spec.palette, spec.background, self.opacity.value() / 100,
                             selection, mask_only)
        name = self.effect_name()
        if name == "overlay" or mask_only:
            return style
        matte = Matte.for_classes(spec.num_classes, spec.background, selection,
                                  feather=self.feather.value(), grow=self.grow.value(),
                                  threshold=round(self.threshold.value(), 2))
        if name == "blur":
            effect = BlurEffect(matte, float(self.strength.value()))
        elif name == "alpha":
            return AlphaEffect(matte)
        elif name == "replace" and self._backdrop is not None:
            backdrop = self._backdrop
            if own_background and self.background_spec:
                backdrop = self._open_backdrop(self.background_spec)
            effect = ReplaceEffect(matte, backdrop)
        else:  # colour, or replace before a picture is chosen
            effect = ReplaceEffect(matte, solid(parse_colour(self.colour)))
        if self.overlay_on_top.isChecked():
            return Chain((effect, OverlayEffect(style)))
        return effect

    # -- background ---------------------------------------------------------------------------
    def choose_background(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Background picture or video", "",
                                              BACKGROUND_FILTER)
        if path:
            self.set_background(path)

    def choose_colour(self) -> None:
        colour = QColorDialog.getColor(QColor(self.colour), self, "Background colour")
        if colour.isValid():
            self.set_colour(colour.name())

    def set_background(self, spec: str) -> bool:
        """Opens a picture/video (or ``#RRGGBB``) as the replace background; a file that
        cannot be used is reported through ``error`` and the previous background stays."""
        try:
            backdrop = self._open_backdrop(spec)
        except LivesegmentError as exc:
            self.error.emit(str(exc))
            return False
        if spec.startswith("#"):
            self.colour, self._backdrop, self.background_spec = spec, None, None
        else:
            self._backdrop, self.background_spec = backdrop, spec
        self.background_label.setText(Path(spec).name if self.background_spec else spec)
        if self.effect_name() not in ("replace", "color"):
            self.set_effect("replace" if self.background_spec else "color")
        self.changed.emit()
        return True

    def set_colour(self, colour: str) -> bool:
        try:
            parse_colour(colour)
        except LivesegmentError as exc:
            self.error.emit(str(exc))
            return False
        self.colour = colour
        if self.background_spec is None:
            self.background_label.setText(colour)
        if self.effect_name() != "replace" or self._backdrop is None:
            self.set_effect("color")
        self.changed.emit()
        return True

    # -- settings -----------------------------------------------------------------------------
    def step_opacity(self, percent: int) -> None:
        self.opacity.setValue(self.opacity.value() + percent)

    def restore(self, settings: QSettings) -> None:
        self.opacity.setValue(int(settings.value("opacity", 50, int)))
        self._opacity_changed(self.opacity.value())
        self.strength.setValue(int(settings.value("effect/strength", 15, int)))
        self.feather.setValue(int(settings.value("effect/feather", 0, int)))
        self.grow.setValue(int(settings.value("effect/grow", 0, int)))
        self.threshold.setValue(float(settings.value("effect/threshold", 0.0, float)))
        self.colour = settings.value("effect/colour", DEFAULT_COLOUR, str)
        self.background_label.setText(self.colour)
        background = settings.value("effect/background", "", str)
        if background and Path(background).is_file():
            self.set_background(background)
        self.set_effect(settings.value("effect/name", "overlay", str))

    def save(self, settings: QSettings) -> None:
        settings.setValue("opacity", self.opacity.value())
        settings.setValue("effect/name", self.effect_name())
        settings.setValue("effect/strength", self.strength.value())
        settings.setValue("effect/feather", self.feather.value())
        settings.setValue("effect/grow", self.grow.value())
        settings.setValue("effect/threshold", self.threshold.value())
        settings.setValue("effect/colour", self.colour)
        settings.setValue("effect/background", self.background_spec or "")

    def _opacity_changed(self, value: int) -> None:
        self.opacity_label.setText(f"{value}%")
        self.changed.emit()

    def _strength_changed(self, value: int) -> None:
        self.strength_label.setText(f"{value} px")
        self.changed.emit()

    def _effect_changed(self) -> None:
        self._enable()
        self.changed.emit()

    def _enable(self) -> None:
        """Only the controls the chosen effect uses are active."""
        name = self.effect_name()
        self.opacity.setEnabled(name == "overlay" or self.overlay_on_top.isChecked())
        self.strength.setEnabled(name == "blur")
        for box in (self.feather, self.grow, self.threshold):
            box.setEnabled(name != "overlay")
        self.overlay_on_top.setEnabled(name in ("blur", "replace", "color"))


def _row(*widgets: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    for widget in widgets:
        row.addWidget(widget)
    return row
