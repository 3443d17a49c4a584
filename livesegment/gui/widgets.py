"""Small Qt widgets: the video view and the class list with colour swatches."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PyQt6.QtCore import QRect, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QIcon, QImage, QPainter, QPixmap
from PyQt6.QtWidgets import QListWidget, QListWidgetItem, QSizePolicy, QWidget

from livesegment.core.models.zoo import ModelSpec


def to_qimage(bgr: np.ndarray) -> QImage:
    """Wraps a BGR (or BGRA: the alpha effect) uint8 frame without copying; the caller keeps
    the array alive. BGRA bytes are Qt's ARGB32 on little-endian machines."""
    h, w = bgr.shape[:2]
    if bgr.ndim == 3 and bgr.shape[2] == 4:
        return QImage(bgr.data, w, h, bgr.strides[0], QImage.Format.Format_ARGB32)
    return QImage(bgr.data, w, h, bgr.strides[0], QImage.Format.Format_BGR888)


class VideoView(QWidget):
    """Paints the newest frame scaled to fit, letterboxed, keeping its aspect ratio."""

    def __init__(self) -> None:
        super().__init__()
        self._frame: np.ndarray | None = None
        self._image: QImage | None = None
        self._placeholder = "No source"
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)
        self.setAutoFillBackground(False)

    def sizeHint(self) -> QSize:
        return QSize(960, 540)

    def show_frame(self, bgr: np.ndarray) -> None:
        self._frame = bgr  # keeps the buffer the QImage points at alive
        self._image = to_qimage(bgr)
        self.update()

    def show_message(self, text: str) -> None:
        self._placeholder = text
        if self._image is None:
            self.update()

    def current_frame(self) -> np.ndarray | None:
        return self._frame

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(20, 20, 20))
        if self._image is None:
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._placeholder)
            return
        size = self._image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect((self.width() - size.width()) // 2, (self.height() - size.height()) // 2,
                       size.width(), size.height())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if self._image.hasAlphaChannel():  # transparent parts show a checkerboard
            painter.fillRect(target, QBrush(_checkerboard()))
        painter.drawImage(target, self._image)


def _checkerboard(cell: int = 12) -> QPixmap:
    tile = QPixmap(2 * cell, 2 * cell)
    tile.fill(QColor(200, 200, 200))
    painter = QPainter(tile)
    painter.fillRect(0, 0, cell, cell, QColor(150, 150, 150))
    painter.fillRect(cell, cell, cell, cell, QColor(150, 150, 150))
    painter.end()
    return tile


def swatch(rgb: Iterable[int]) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(*[int(c) for c in rgb]))
    return QIcon(pixmap)


class ClassList(QListWidget):
    """The model's classes as checkboxes with their overlay colour; emits the checked ids."""

    selection_changed = pyqtSignal(object)  # frozenset[int]

    def __init__(self) -> None:
        super().__init__()
        self._spec: ModelSpec | None = None
        self._quiet = False
        self.itemChanged.connect(self._changed)

    def set_model(self, spec: ModelSpec, checked: Iterable[int] | None = None) -> None:
        self._spec = spec
        wanted = set(range(spec.num_classes)) if checked is None else set(checked)
        self._quiet = True
        self.clear()
        for i, name in enumerate(spec.categories):
            if i == spec.background:
                continue
            item = QListWidgetItem(swatch(spec.palette[i]), name)
            item.setData(Qt.ItemDataRole.UserRole, i)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if i in wanted else Qt.CheckState.Unchecked)
            self.addItem(item)
        self._quiet = False

    def checked(self) -> frozenset[int]:
        return frozenset(
            self.item(r).data(Qt.ItemDataRole.UserRole) for r in range(self.count())
            if self.item(r).checkState() == Qt.CheckState.Checked)

    def check_only(self, ids: Iterable[int]) -> None:
        wanted = set(ids)
        self._quiet = True
        for r in range(self.count()):
            item = self.item(r)
            on = item.data(Qt.ItemDataRole.UserRole) in wanted
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self._quiet = False
        self.selection_changed.emit(self.checked())

    def set_checked(self, class_id: int, on: bool) -> None:
        for r in range(self.count()):
            item = self.item(r)
            if item.data(Qt.ItemDataRole.UserRole) == class_id:
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def _changed(self, _item: QListWidgetItem) -> None:
        if not self._quiet:
            self.selection_changed.emit(self.checked())
