"""The labelling canvas: the picture with its labels coloured by class, the object being drawn
highlighted, and the mouse turned into editing steps.

The canvas only says what the user did, in picture pixels (``clicked``, ``boxed``,
``stroked``, ``picked``); the window turns those into steps of the editing model. A brush or
eraser stroke is shown while it is dragged and handed over whole on release: one stroke is
one undo step.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

import cv2
import numpy as np
from PyQt6.QtCore import QPointF, QRect, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from livesegment.core.compose.overlay import OverlayStyle, blend_numpy
from livesegment.core.select.editing import Moment
from livesegment.gui.widgets import frame_point, picture_rect, to_qimage

OPACITY = 0.45  # labels over the picture
HIGHLIGHT = (255, 230, 0)  # RGB of the object being drawn: no class's colour, easy to see
DRAG_PX = 5  # a press that moves further than this (screen pixels) is a box, not a click
LABELLED = frozenset(range(1, 255))  # ids tinted: not the background (0), nor 255 (left out)
DRAWN = OverlayStyle(np.array([(0, 0, 0), HIGHLIGHT], np.uint8), 0, 0.6)  # the object: id 1


class Tool(Enum):
    CLICK = "click"
    BRUSH = "brush"
    ERASER = "eraser"


class Canvas(QWidget):
    """Paints one picture and its labelling moment, scaled to fit, aspect kept."""

    clicked = pyqtSignal(float, float, bool)  # x, y, include
    boxed = pyqtSignal(object)  # (x0, y0, x1, y1)
    stroked = pyqtSignal(object, float, bool)  # points, radius, add
    picked = pyqtSignal(float, float)  # Ctrl+click: correct the labelled object there

    def __init__(self) -> None:
        super().__init__()
        self.tool = Tool.CLICK
        self.brush_radius = 12.0  # picture pixels
        self._bgr: np.ndarray | None = None
        self._image: QImage | None = None
        self._shown: np.ndarray | None = None  # keeps the QImage's buffer alive
        self._moment: Moment | None = None
        self._palette = np.zeros((256, 3), np.uint8)
        self._press: QPointF | None = None
        self._press_button = Qt.MouseButton.NoButton
        self._drag: QPointF | None = None
        self._stroke: list[tuple[float, float]] = []
        self._message = "Open pictures or a video"
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def sizeHint(self) -> QSize:
        return QSize(960, 540)

    # -- what is shown ----------------------------------------------------------------------
    def show_picture(self, bgr: np.ndarray | None, message: str = "") -> None:
        """A new picture (None: only ``message``); its moment follows with :meth:`show_moment`."""
        self._bgr, self._moment = bgr, None
        self._message = message
        self._stroke = []
        self._render()

    def show_moment(self, moment: Moment | None, palette: np.ndarray) -> None:
        """The picture's labels and the object being drawn; ``palette``: 256x3 RGB by id."""
        self._moment, self._palette = moment, palette
        self._render()

    def set_message(self, text: str) -> None:
        """A line over the picture (preparing, failed...); empty hides it."""
        self._message = text
        self.update()

    def composed(self) -> np.ndarray | None:
        """The BGR picture as painted (labels and the object blended in): what tests look at."""
        return self._shown

    def _render(self) -> None:
        self._shown = None if self._bgr is None else blend(self._bgr, self._moment,
                                                           self._palette)
        self._image = None if self._shown is None else to_qimage(self._shown)
        self.update()

    # -- geometry ---------------------------------------------------------------------------
    def _target(self) -> QRect:
        """Where the picture is painted: the live view's letterbox (widgets.picture_rect)."""
        if self._bgr is None:
            return QRect()
        height, width = self._bgr.shape[:2]
        return QRect(*picture_rect(width, height, self.width(), self.height()))

    def to_picture(self, at: QPointF) -> tuple[float, float] | None:
        """Widget point -> picture (x, y), None outside the picture."""
        if self._bgr is None:
            return None
        height, width = self._bgr.shape[:2]
        return frame_point(width, height, self.width(), self.height(), at.x(), at.y())

    def to_widget(self, x: float, y: float) -> QPointF:
        """Picture (x, y) -> widget point (the pixel's centre)."""
        target = self._target()
        height, width = self._bgr.shape[:2]  # type: ignore[union-attr]
        return QPointF(target.x() + (x + 0.5) * target.width() / width,
                       target.y() + (y + 0.5) * target.height() / height)

    def _scale(self) -> float:
        """Screen pixels per picture pixel."""
        return self._target().width() / self._bgr.shape[1] if self._bgr is not None else 1.0

    # -- mouse ------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        at = self.to_picture(event.position())
        if at is None:
            return
        self._press, self._press_button = event.position(), event.button()
        if self.tool is not Tool.CLICK and event.button() == Qt.MouseButton.LeftButton:
            self._stroke = [at]
            self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self._press is None:
            self.update()  # the brush outline follows the mouse
            return
        self._drag = event.position()
        at = self.to_picture(event.position())
        if self._stroke and at is not None:
            self._stroke.append(at)
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        press, button, self._press, self._drag = self._press, self._press_button, None, None
        if press is None:
            return
        if self._stroke:
            end = self.to_picture(event.position())
            points, self._stroke = self._stroke + ([end] if end else []), []
            self.stroked.emit(points, self.brush_radius, self.tool is Tool.BRUSH)
            return
        start = self.to_picture(press)
        end = self.to_picture(event.position()) or _clamped(self, event.position())
        if start is None or end is None:
            return
        moved = (event.position() - press).manhattanLength() > DRAG_PX
        mods = event.modifiers()
        if button == Qt.MouseButton.LeftButton and moved:
            self.boxed.emit((min(start[0], end[0]), min(start[1], end[1]),
                             max(start[0], end[0]), max(start[1], end[1])))
        elif button == Qt.MouseButton.LeftButton and mods & Qt.KeyboardModifier.ControlModifier:
            self.picked.emit(*start)
        elif button == Qt.MouseButton.LeftButton:
            self.clicked.emit(start[0], start[1],
                              not mods & Qt.KeyboardModifier.ShiftModifier)
        elif button == Qt.MouseButton.RightButton:
            self.clicked.emit(start[0], start[1], False)
        self.update()

    # -- painting ---------------------------------------------------------------------------
    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(20, 20, 20))
        if self._image is not None:
            painter.drawImage(self._target(), self._image)
            self._paint_marks(painter)
        if self._message:
            painter.setPen(QColor(240, 240, 240))
            box = self.rect().adjusted(8, 8, -8, -8)
            painter.drawText(box, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter,
                             self._message)

    def _paint_marks(self, painter: QPainter) -> None:
        """Clicks as dots (green include, red exclude), the box being dragged, the stroke and
        the brush outline."""
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for c in self._moment.clicks if self._moment is not None else ():
            painter.setPen(QPen(QColor(255, 255, 255), 1.5))
            painter.setBrush(QColor(40, 200, 60) if c.include else QColor(230, 50, 50))
            painter.drawEllipse(self.to_widget(c.x, c.y), 5, 5)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if self._press is not None and self._drag is not None and self.tool is Tool.CLICK:
            painter.setPen(QPen(QColor(*HIGHLIGHT), 1.5, Qt.PenStyle.DashLine))
            painter.drawRect(QRectF(self._press, self._drag).normalized())
        radius = self.brush_radius * self._scale()
        if self._stroke:
            colour = QColor(*HIGHLIGHT) if self.tool is Tool.BRUSH else QColor(230, 50, 50)
            painter.setPen(QPen(colour, 2 * radius, Qt.PenStyle.SolidLine,
                                Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
            points = [self.to_widget(x, y) for x, y in self._stroke]
            if len(points) > 1:
                painter.drawPolyline(points)
            else:
                painter.drawPoint(points[0])
        elif self.tool is not Tool.CLICK and self.underMouse():
            painter.setPen(QPen(QColor(255, 255, 255), 1))
            painter.drawEllipse(self.mapFromGlobal(self.cursor().pos()).toPointF(), radius,
                                radius)


def _clamped(canvas: Canvas, at: QPointF) -> tuple[float, float] | None:
    """A release outside the picture (a box dragged past its edge) clamped onto it."""
    target = canvas._target()
    if target.width() == 0:
        return None
    x = min(max(at.x(), target.left()), target.right())
    y = min(max(at.y(), target.top()), target.bottom())
    return canvas.to_picture(QPointF(x, y))


def blend(bgr: np.ndarray, moment: Moment | None, palette: np.ndarray) -> np.ndarray:
    """The picture with labelled pixels tinted by their class colour and the object being
    drawn tinted more strongly, its outline drawn: BGR uint8, a new array. The tints are the
    live overlay's own blend (core/compose/overlay.py), so a class looks the same in both."""
    if moment is None:
        return bgr.copy()
    out = blend_numpy(bgr, moment.labels, OverlayStyle(palette, 0, OPACITY, LABELLED))
    if moment.mask.any():
        out = blend_numpy(out, moment.mask.view(np.uint8), DRAWN)
        edges, _ = cv2.findContours(moment.mask.view(np.uint8), cv2.RETR_LIST,
                                    cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, edges, -1, (255, 255, 255), max(1, bgr.shape[1] // 640))
    return out


def palette_of(colours: Sequence[tuple[int, int, int]]) -> np.ndarray:
    """256x3 RGB: the classes' colours by id, grey for ids without a class."""
    out = np.full((256, 3), 128, np.uint8)
    for i, rgb in enumerate(colours[:256]):
        out[i] = rgb
    return out
