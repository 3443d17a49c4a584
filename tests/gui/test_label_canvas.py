"""The labelling canvas maps the mouse through the live view's letterbox (widgets.py): a click
lands on the picture position painted under it, the black bars do nothing, and a box dragged
onto a bar ends at the picture's edge."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, QPointF, Qt

from livesegment.gui.label.canvas import Canvas
from livesegment.gui.widgets import frame_pixel
from tests.gui.showing import black, shown_at


def _canvas(qtbot, view_size, frame_size=(160, 120)) -> Canvas:
    canvas = Canvas()
    canvas.show_picture(black(frame_size))
    return shown_at(qtbot, canvas, view_size)


@pytest.mark.parametrize("view, where, expected", [
    # 160x120 in 400x200: picture at x 67..332, 266/160 view pixels a picture pixel across
    ((400, 200), (67, 0), (0.0, 0.0)),
    ((400, 200), (200, 100), (80.0, 60.0)),          # 133 * 160 / 266 = 80
    ((400, 200), (10, 100), None),                   # left bar
    ((400, 200), (390, 100), None),                  # right bar
    # 160x120 in 400x400: picture at y 50..349, 2.5 view pixels a picture pixel
    ((400, 400), (10, 55), (4.0, 2.0)),
    ((400, 400), (10, 20), None),                    # top bar
    ((400, 400), (10, 380), None),                   # bottom bar
])
def test_a_click_lands_on_the_picture_position_under_it_and_the_bars_do_nothing(
        qtbot, view, where, expected):
    canvas = _canvas(qtbot, view)
    got = []
    canvas.clicked.connect(lambda x, y, include: got.append((x, y, include)))
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(*where))
    assert got == ([] if expected is None else [(*expected, True)])


@pytest.mark.parametrize("view", [(400, 200), (400, 400), (961, 541), (333, 1001)])
def test_the_canvas_and_the_live_view_agree_on_every_pixel(qtbot, view):
    """The pixel a canvas position falls in is the one the live view's click would give."""
    canvas = _canvas(qtbot, view)
    for x in np.linspace(-3, view[0] + 3, 41):
        for y in np.linspace(-3, view[1] + 3, 37):
            at = canvas.to_picture(QPointF(x, y))
            pixel = None if at is None else (int(at[0]), int(at[1]))
            assert pixel == frame_pixel(160, 120, *view, x, y), (x, y)


def test_a_box_dragged_onto_a_bar_ends_at_the_pictures_edge(qtbot):
    canvas = _canvas(qtbot, (400, 200))
    boxes = []
    canvas.boxed.connect(boxes.append)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(200, 100))
    qtbot.mouseMove(canvas, QPoint(390, 150))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(390, 150))
    (x0, y0, x1, y1), = boxes
    assert (x0, y0) == (80.0, 60.0)
    assert x1 == pytest.approx((332 - 67) * 160 / 266)  # the last painted column's left edge
    assert y1 == pytest.approx(150 * 120 / 200)


def _mixed(value: int, colour: int, strength: int) -> int:
    """The overlay formula by hand: (frame * (256 - a) + colour * a + 128) >> 8."""
    return (value * (256 - strength) + colour * strength + 128) >> 8


def test_labels_and_the_object_are_tinted_by_the_overlay_formula_and_nothing_else():
    from livesegment.core.select.editing import Moment
    from livesegment.gui.label.canvas import HIGHLIGHT, blend, palette_of

    bgr = np.empty((20, 30, 3), np.uint8)
    bgr[:] = (100, 150, 200)
    labels = np.zeros((20, 30), np.uint8)
    labels[2:6, 2:6] = 1
    labels[2:6, 10:14] = 7            # an id without a class: grey
    labels[10:14, 2:6] = 255          # not labelled: left as it is
    drawn = np.zeros((20, 30), bool)
    drawn[10:16, 15:25] = True
    out = blend(bgr, Moment(labels, drawn), palette_of([(0, 0, 0), (255, 0, 40)]))
    a = round(0.45 * 256)
    assert tuple(out[3, 3]) == (_mixed(100, 40, a), _mixed(150, 0, a), _mixed(200, 255, a))
    assert tuple(out[3, 11]) == tuple(_mixed(v, 128, a) for v in (100, 150, 200))
    h = round(0.6 * 256)
    inside = tuple(_mixed(v, c, h) for v, c in zip((100, 150, 200), HIGHLIGHT[::-1]))
    assert tuple(out[13, 20]) == inside                          # inside, off the outline
    assert tuple(out[10, 20]) == (255, 255, 255)                 # the outline
    untouched = np.ones((20, 30), bool)
    untouched[2:6, 2:6] = untouched[2:6, 10:14] = untouched[10:16, 15:25] = False
    assert (out[untouched] == bgr[untouched]).all() and (bgr == (100, 150, 200)).all()
    assert (blend(bgr, None, palette_of([])) == bgr).all()
