"""Clicks on the letterboxed live view land on the frame pixel drawn under them; the black
bars do nothing."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import QPoint, QSize, Qt

from livesegment.gui.widgets import VideoView, frame_pixel, picture_rect
from tests.gui.showing import black, shown_at


@pytest.mark.parametrize("frame, view, expected", [
    ((160, 120), (400, 300), (0, 0, 400, 300)),      # same shape: no bars
    ((160, 120), (400, 200), (67, 0, 266, 200)),     # wider view: bars left and right
    ((160, 120), (400, 400), (0, 50, 400, 300)),     # taller view: bars above and below
    ((1280, 720), (961, 541), (0, 0, 961, 541)),     # 541 * 16 / 9 = 961.8: truncated
    ((1280, 720), (320, 180), (0, 0, 320, 180)),     # shrunk
    ((100, 1), (50, 50), (0, 25, 50, 0)),            # a strip too thin to show
])
def test_the_picture_rect(frame, view, expected):
    assert picture_rect(*frame, *view) == expected


@pytest.mark.parametrize("frame", [(160, 120), (1280, 720), (720, 1280), (641, 479), (3, 7)])
@pytest.mark.parametrize("view", [(400, 300), (961, 541), (320, 900), (1001, 333)])
def test_the_picture_rect_is_where_qt_would_draw_it(frame, view):
    """The painting used Qt's QSize.scaled before; the rect is the same one."""
    size = QSize(*frame).scaled(QSize(*view), Qt.AspectRatioMode.KeepAspectRatio)
    left, top = (view[0] - size.width()) // 2, (view[1] - size.height()) // 2
    assert picture_rect(*frame, *view) == (left, top, size.width(), size.height())


@pytest.mark.parametrize("frame, view, point, expected", [
    # 160x120 in 400x200: picture at x 67..332, scale 266/160 = 1.6625 across, 200/120 down
    ((160, 120), (400, 200), (67, 0), (0, 0)),              # first picture pixel
    ((160, 120), (400, 200), (332.9, 199.9), (159, 119)),   # last one
    ((160, 120), (400, 200), (66.9, 100), None),            # left bar
    ((160, 120), (400, 200), (333, 100), None),             # right bar
    ((160, 120), (400, 200), (200, 100), (80, 60)),         # centre: 133 * 160 / 266 = 80
    ((160, 120), (400, 200), (-1, -1), None),               # off the view
    # 160x120 in 400x400: picture at y 50..349, 2.5 view pixels a frame pixel
    ((160, 120), (400, 400), (10, 49.9), None),             # top bar
    ((160, 120), (400, 400), (10, 50), (4, 0)),
    ((160, 120), (400, 400), (399.9, 349.9), (159, 119)),
    ((160, 120), (400, 400), (10, 350), None),              # bottom bar
    ((160, 120), (400, 400), (12.5, 52.5), (5, 1)),         # a pixel's own corner
    ((160, 120), (400, 400), (12.49, 52.49), (4, 0)),
    # 1280x720 in 320x180: 4 frame pixels a view pixel, no bars
    ((1280, 720), (320, 180), (0.5, 0.5), (2, 2)),
    ((1280, 720), (320, 180), (319.99, 179.99), (1279, 719)),
    ((100, 1), (50, 50), (25, 25), None),                   # nothing drawn, nothing hit
])
def test_a_view_point_maps_to_the_frame_pixel_under_it(frame, view, point, expected):
    assert frame_pixel(*frame, *view, *point) == expected


def _view(qtbot, frame_size=(160, 120), view_size=(400, 200)) -> VideoView:
    view = VideoView()
    view.show_frame(black(frame_size))
    return shown_at(qtbot, view, view_size)


@pytest.mark.parametrize("where, expected", [
    ((67, 0), (0, 0)), ((200, 100), (80, 60)), ((332, 199), (159, 119)),
    ((10, 100), None), ((390, 100), None),
])
def test_clicking_the_view_emits_the_frame_pixel_and_the_bars_emit_nothing(qtbot, where,
                                                                          expected):
    view = _view(qtbot)
    got = []
    view.clicked.connect(lambda x, y: got.append((x, y)))
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(*where))
    assert got == ([] if expected is None else [expected])


def test_only_a_left_click_on_a_shown_frame_counts(qtbot):
    view = _view(qtbot)
    got = []
    view.clicked.connect(lambda x, y: got.append((x, y)))
    qtbot.mouseClick(view, Qt.MouseButton.RightButton, pos=QPoint(200, 100))
    empty = VideoView()
    qtbot.addWidget(empty)
    empty.clicked.connect(lambda x, y: got.append((x, y)))
    empty.resize(400, 200)
    empty.show()
    qtbot.mouseClick(empty, Qt.MouseButton.LeftButton, pos=QPoint(200, 100))
    assert got == []
