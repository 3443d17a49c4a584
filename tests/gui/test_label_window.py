"""The labelling window driven by mouse and keys: what each interaction does to the pixels of
the object being drawn and of the saved labels."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from livesegment.core.select import iou
from livesegment.core.select.editing import stroke
from livesegment.gui.label.canvas import HIGHLIGHT, Tool
from tests.gui.labelling import (A, B, HEIGHT, SQUARE, WIDTH, click_at, drag, key, make_store,
                                 mask, now, open_window, settle)

EVERYWHERE = np.ones((HEIGHT, WIDTH), bool)


@pytest.fixture
def window(qtbot, tmp_path):
    return open_window(qtbot, make_store(tmp_path))


def test_a_left_click_inside_the_square_selects_it_and_paints_it(qtbot, window):
    assert window.key == "p0.png"
    before = window.canvas.composed().copy()
    click_at(qtbot, window, 80, 60)
    assert iou(now(window).mask, mask(SQUARE), EVERYWHERE) >= 0.95
    painted = window.canvas.composed()
    changed = np.any(painted != before, axis=2)
    assert changed[mask(SQUARE)].mean() > 0.95 and not changed[5:20, 5:40].any()
    assert tuple(painted[60, 80]) != tuple(before[60, 80])  # tinted towards the highlight
    assert abs(int(painted[60, 80, 0]) - HIGHLIGHT[2]) < abs(int(before[60, 80, 0]) - HIGHLIGHT[2])
    assert window.last_answer_ms > 0


@pytest.mark.parametrize("button, modifier", [
    (Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier),
    (Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier),
])
def test_right_and_shift_clicks_exclude(qtbot, window, button, modifier):
    key(qtbot, window, "Right")
    assert window.key == "p1.png"
    click_at(qtbot, window, 40, 50)
    click_at(qtbot, window, 120, 60)
    assert iou(now(window).mask, mask(A, B), EVERYWHERE) >= 0.95
    click_at(qtbot, window, 120, 60, button, modifier)
    assert iou(now(window).mask, mask(A), EVERYWHERE) >= 0.95
    assert [c.include for c in now(window).clicks] == [True, True, False]


def test_a_dragged_box_starts_the_object(qtbot, window):
    drag(qtbot, window, [(40, 20), (80, 60), (120, 100)])
    assert iou(now(window).mask, mask(SQUARE), EVERYWHERE) >= 0.95
    x0, y0, x1, y1 = now(window).box
    assert abs(x0 - 40) <= 1 and abs(y0 - 20) <= 1 and abs(x1 - 120) <= 1 and abs(y1 - 100) <= 1


def test_the_brush_adds_the_stroke_and_the_eraser_takes_it_away(qtbot, window):
    key(qtbot, window, "B")
    assert window.canvas.tool is Tool.BRUSH
    window.brush_size.setValue(4)
    drag(qtbot, window, [(10, 10), (20, 10), (30, 10)])
    got = now(window).mask
    assert got[10, 10:31].all() and got[7:14, 12:28].all()  # the stroke's core
    assert not got[:, 36:].any() and not got[16:].any()  # nothing beyond its radius (+1)
    key(qtbot, window, "E")
    assert window.canvas.tool is Tool.ERASER
    drag(qtbot, window, [(20, 4), (20, 16)])
    after = now(window).mask
    assert not after[6:15, 18:23].any() and after[10, 10] and after[10, 30]
    key(qtbot, window, "E")
    assert window.canvas.tool is Tool.CLICK  # E again: back to clicks


def test_a_stroke_changes_exactly_its_pixels(qtbot, window):
    click_at(qtbot, window, 80, 60)
    before = now(window).mask
    window.canvas.stroked.emit([(20.0, 100.0), (40.0, 110.0)], 5.0, True)
    settle(qtbot, window)
    assert np.array_equal(now(window).mask, before | stroke((HEIGHT, WIDTH),
                                                             [(20, 100), (40, 110)], 5))
    window.canvas.stroked.emit([(80.0, 60.0)], 6.0, False)
    settle(qtbot, window)
    expected = before | stroke((HEIGHT, WIDTH), [(20, 100), (40, 110)], 5)
    assert np.array_equal(now(window).mask, expected & ~stroke((HEIGHT, WIDTH), [(80, 60)], 6))


def test_brush_size_keys(qtbot, window):
    window.brush_size.setValue(8)
    key(qtbot, window, "]")
    assert window.canvas.brush_radius == pytest.approx(10)
    key(qtbot, window, "[")
    key(qtbot, window, "[")
    assert window.canvas.brush_radius == pytest.approx(6.4)


def test_undo_and_redo_every_step_exactly(qtbot, window):
    seen = [now(window).mask.copy()]
    click_at(qtbot, window, 80, 60)
    seen.append(now(window).mask.copy())
    window.canvas.stroked.emit([(10.0, 10.0)], 4.0, True)
    settle(qtbot, window)
    seen.append(now(window).mask.copy())
    click_at(qtbot, window, 80, 60, Qt.MouseButton.RightButton)
    seen.append(now(window).mask.copy())
    for expected in reversed(seen[:-1]):
        key(qtbot, window, "Ctrl+Z")
        assert np.array_equal(now(window).mask, expected)
    for expected in seen[1:]:
        key(qtbot, window, "Ctrl+Shift+Z")
        assert np.array_equal(now(window).mask, expected)
    key(qtbot, window, "Ctrl+Z")
    key(qtbot, window, "Ctrl+Y")
    assert np.array_equal(now(window).mask, seen[-1])


def test_enter_accepts_into_the_selected_class_and_saves(qtbot, window):
    store = window.store
    click_at(qtbot, window, 80, 60)
    key(qtbot, window, "2")
    assert window.class_editor.class_id() == 2
    key(qtbot, window, "Return")
    saved = store.labels("p0.png")
    assert saved is not None and set(np.unique(saved)) == {0, 2}
    assert iou(saved == 2, mask(SQUARE), EVERYWHERE) >= 0.95
    assert not now(window).mask.any() and store.draft("p0.png") is None
    assert store.status("p0.png").human
    key(qtbot, window, "Ctrl+Z")  # the accept itself is undone, on disk too: unlabelled again
    assert store.labels("p0.png") is None and now(window).mask.any()
    assert store.status("p0.png") is None


def test_escape_drops_the_object(qtbot, window):
    click_at(qtbot, window, 80, 60)
    assert window.store.draft("p0.png") is not None
    key(qtbot, window, "Esc")
    assert not now(window).mask.any() and window.store.draft("p0.png") is None


def test_ctrl_click_picks_up_a_labelled_object_to_correct_it(qtbot, window):
    click_at(qtbot, window, 80, 60)
    key(qtbot, window, "Return")
    click_at(qtbot, window, 80, 60, modifier=Qt.KeyboardModifier.ControlModifier)
    assert iou(now(window).mask, mask(SQUARE), EVERYWHERE) >= 0.95
    assert not (now(window).labels == 1).any()
    window.canvas.stroked.emit([(50.0, 30.0), (110.0, 30.0)], 10.0, False)
    settle(qtbot, window)
    key(qtbot, window, "Return")
    saved = window.store.labels("p0.png")
    assert not saved[30:40].any() and (saved[45:90, 50:110] == 1).all()


def test_stepping_through_pictures_with_keys_and_the_timeline(qtbot, window):
    key(qtbot, window, "Right")
    assert window.key == "p1.png"
    key(qtbot, window, "End")
    assert window.key == "p2.png"
    key(qtbot, window, "Right")  # past the end: stays
    assert window.key == "p2.png"
    window.timeline.slider.setValue(0)
    settle(qtbot, window)
    assert window.key == "p0.png" and window.timeline.readout.text() == "1 / 3"
    assert window.canvas.composed() is not None


def test_each_picture_keeps_its_own_object_and_history(qtbot, window):
    click_at(qtbot, window, 80, 60)
    first = now(window).mask.copy()
    key(qtbot, window, "Right")
    assert not now(window).mask.any()
    key(qtbot, window, "Left")
    assert np.array_equal(now(window).mask, first)
    key(qtbot, window, "Ctrl+Z")
    assert not now(window).mask.any()


def test_the_timeline_marks_labelled_pictures(qtbot, window):
    from livesegment.gui.label.timeline import Mark

    click_at(qtbot, window, 80, 60)
    key(qtbot, window, "Return")
    assert window.timeline.marks() == {0: Mark.LABELLED}


def test_segment_with_a_model_starts_from_its_mask(qtbot, tmp_path):
    asked = []

    def segment(name, bgr, class_name):
        asked.append((name, bgr.shape, class_name))
        return mask((50, 30, 80, 90))

    window = open_window(qtbot, make_store(tmp_path), segment=segment)
    window.ask_model = lambda parent, current: "espnetv2-voc"
    window.actions_by_name["Segment with model"].trigger()
    qtbot.waitUntil(lambda: now(window).mask.any(), timeout=10000)
    settle(qtbot, window)
    assert asked == [("espnetv2-voc", (HEIGHT, WIDTH, 3), "box")]
    assert np.array_equal(now(window).mask, mask((50, 30, 80, 90)))
    click_at(qtbot, window, 100, 60)  # corrected with a click: the rest of the square joins
    assert iou(now(window).mask, mask(SQUARE), EVERYWHERE) >= 0.95
