"""The mask controls: a smoothing slider and an edge-refinement checkbox."""

from __future__ import annotations

from PyQt6.QtCore import QSettings, Qt, pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from livesegment.core.masks.smoothing import MaskOptions


class MaskControls(QWidget):
    """Emits ``changed(MaskOptions)`` whenever the slider or the checkbox moves."""

    changed = pyqtSignal(object)  # MaskOptions

    def __init__(self, options: MaskOptions = MaskOptions()) -> None:
        super().__init__()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setToolTip("Temporal smoothing: still, uncertain pixels stop flickering "
                               "(0 = off)")
        self.value_label = QLabel()
        self.refine = QCheckBox("Sharp edges")
        self.refine.setToolTip("Snap mask edges to the picture's edges")
        row = QHBoxLayout()
        row.addWidget(QLabel("Smoothing"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.value_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.refine)
        self.set_options(options)
        self.slider.valueChanged.connect(self._moved)
        self.refine.toggled.connect(lambda _on: self.changed.emit(self.options()))

    def options(self) -> MaskOptions:
        return MaskOptions(self.slider.value() / 100, self.refine.isChecked())

    def set_options(self, options: MaskOptions) -> None:
        """Shows ``options`` without emitting (restoring settings)."""
        self.blockSignals(True)
        self.slider.setValue(round(options.smoothing * 100))
        self.refine.setChecked(options.refine)
        self.blockSignals(False)
        self.value_label.setText(f"{self.slider.value() / 100:.2f}")

    def restore(self, settings: QSettings) -> None:
        default = MaskOptions()
        self.set_options(MaskOptions(settings.value("smoothing", default.smoothing, float),
                                     settings.value("refine", default.refine, bool)))

    def save(self, settings: QSettings) -> None:
        settings.setValue("smoothing", self.options().smoothing)
        settings.setValue("refine", self.options().refine)

    def _moved(self, value: int) -> None:
        self.value_label.setText(f"{value / 100:.2f}")
        self.changed.emit(self.options())
