"""Small Qt widgets: the video view and the class list with colour swatches."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PyQt6.QtCore import QRect, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QIcon, QImage, QMouseEvent, QPainter, QPixmap
from PyQt6.QtWidgets import QListWidget, QListWidgetItem, QSizePolicy, QWidget

from livesegment.core.models.zoo import ModelSpec


def to_qimage(bgr: np.ndarray) -> QImage:
    """Wraps a BGR (or BGRA: the alpha effect) uint8 frame without copying; the caller keeps
    the array alive. BGRA bytes are Qt's ARGB32 on little-endian machines."""
    h, w = bgr.shape[:2]
    if bgr.ndim == 3 and bgr.shape[2] == 4:
        return QImage(bgr.data, w, h, bgr.strides[0], QImage.Format.Format_ARGB32)
    return QImage(bgr.data, w, h, bgr.strides[0], QImage.Format.Format_BGR888)


def picture_rect(frame_w: int, frame_h: int, view_w: int, view_h: int
                 ) -> tuple[int, int, int, int]:
    """(left, top, width, height) of a ``frame_w`` x ``frame_h`` picture fitted into the view,
    keeping its aspect ratio, centred between black bars. Qt's own ``QSize.scaled`` sums in
    whole pixels (truncating); the painting and the click mapping both use this one, so a
    click lands on the pixel drawn under it."""
    width = view_h * frame_w // frame_h
    if width <= view_w:
        height = view_h
    else:
        width, height = view_w, view_w * frame_h // frame_w
    return (view_w - width) // 2, (view_h - height) // 2, width, height


def frame_point(frame_w: int, frame_h: int, view_w: int, view_h: int, x: float, y: float
                ) -> tuple[float, float] | None:
    """The frame position (column, row in frame pixels, fractional) drawn under the view point
    (``x``, ``y``), or None on the black bars (or off the view). Views that want sub-pixel
    positions (the labelling canvas's strokes) and those that want the pixel share it, so
    both agree with the painting."""
    left, top, width, height = picture_rect(frame_w, frame_h, view_w, view_h)
    if width <= 0 or height <= 0 or not (left <= x < left + width and top <= y < top + height):
        return None
    return (x - left) * frame_w / width, (y - top) * frame_h / height


def frame_pixel(frame_w: int, frame_h: int, view_w: int, view_h: int, x: float, y: float
                ) -> tuple[int, int] | None:
    """The frame pixel (column, row) drawn under the view point (``x``, ``y``), or None on
    the black bars (or off the view)."""
    at = frame_point(frame_w, frame_h, view_w, view_h, x, y)
    if at is None:
        return None
    return min(frame_w - 1, int(at[0])), min(frame_h - 1, int(at[1]))


class VideoView(QWidget):
    """Paints the newest frame scaled to fit, letterboxed, keeping its aspect ratio; a left
    click on the picture says which frame pixel it fell on (``clicked(column, row)``)."""

    clicked = pyqtSignal(int, int)

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

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self._frame is None or event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        h, w = self._frame.shape[:2]
        at = frame_pixel(w, h, self.width(), self.height(), event.position().x(),
                         event.position().y())
        if at is not None:
            self.clicked.emit(*at)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(20, 20, 20))
        if self._image is None:
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._placeholder)
            return
        target = QRect(*picture_rect(self._image.width(), self._image.height(), self.width(),
                                     self.height()))
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
