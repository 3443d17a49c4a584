"""Widgets put on screen at a size, for tests that click through a view's letterbox."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QSize
from PyQt6.QtWidgets import QWidget


def black(frame_size: tuple[int, int]) -> np.ndarray:
    """A black BGR picture ``frame_size`` = (width, height)."""
    return np.zeros((frame_size[1], frame_size[0], 3), np.uint8)


def shown_at(qtbot, widget: QWidget, view_size: tuple[int, int]) -> QWidget:
    """``widget`` shown at ``view_size``, once the (offscreen) platform has sized it."""
    qtbot.addWidget(widget)
    widget.resize(*view_size)
    widget.show()
    qtbot.waitUntil(lambda: widget.size() == QSize(*view_size))
    return widget
