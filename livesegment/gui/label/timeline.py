"""The timeline: a slider over the pictures (or a video's frames) with a strip above it that
marks what each one holds, so the frames that need a look are found without stepping
through them all."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QColor, QPainter
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget


class Mark(Enum):
    """What a picture holds, as the strip shows it."""

    LABELLED = "labelled"  # a person labelled it
    CARRIED = "carried"  # a mask was carried here from another frame
    LOOK = "look"  # carried, but the tracker was unsure: look at it


COLOURS = {Mark.LABELLED: (60, 180, 75), Mark.CARRIED: (0, 130, 200), Mark.LOOK: (245, 130, 48)}


class MarkStrip(QWidget):
    """One coloured tick per marked picture, the current one outlined."""

    def __init__(self) -> None:
        super().__init__()
        self.count, self.current = 0, 0
        self.marks: dict[int, Mark] = {}
        self.setFixedHeight(10)

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(45, 45, 45))
        if self.count == 0:
            return
        step = self.width() / self.count
        for i, mark in self.marks.items():
            painter.fillRect(int(i * step), 0, max(1, int(step)), self.height(),
                             QColor(*COLOURS[mark]))
        painter.setPen(QColor(255, 255, 255))
        painter.drawRect(int(self.current * step), 0, max(1, int(step)), self.height() - 1)


class Timeline(QWidget):
    """Slider + marks + "n / N" readout; ``moved(index)`` when the user picks a picture."""

    moved = pyqtSignal(int)

    def __init__(self) -> None:
        super().__init__()
        self.strip = MarkStrip()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys belong to the canvas
        self.slider.valueChanged.connect(self._changed)
        self.readout = QLabel("0 / 0")
        row = QHBoxLayout()
        row.addWidget(self.slider, 1)
        row.addWidget(self.readout)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.strip)
        layout.addLayout(row)

    def set_count(self, count: int) -> None:
        self.strip.count = count
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, count - 1))
        self.slider.blockSignals(False)
        self._show(self.slider.value())

    def set_index(self, index: int) -> None:
        """Moves the slider without saying so (the window asked for it)."""
        self.slider.blockSignals(True)
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        self._show(index)

    def set_marks(self, marks: Mapping[int, Mark]) -> None:
        self.strip.marks = dict(marks)
        self.strip.update()

    def marks(self) -> dict[int, Mark]:
        return dict(self.strip.marks)

    def _changed(self, index: int) -> None:
        self._show(index)
        self.moved.emit(index)

    def _show(self, index: int) -> None:
        self.strip.current = index
        self.readout.setText(f"{index + 1 if self.strip.count else 0} / {self.strip.count}")
        self.strip.update()
