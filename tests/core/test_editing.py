"""The editing model on crafted pictures: what each step does to the pixels, that undo and
redo give back the exact earlier masks, and what accept writes into the class-id map."""

from __future__ import annotations

import numpy as np
import pytest

from livesegment.core.select import Selector, iou
from livesegment.core.select.editing import (HISTORY, accept, begin, click, drag_box, drop,
                                             paint, redo, start_from, stroke, take, undo,
                                             with_labels)
from tests.core.test_select import A, B, EVERYWHERE, mask, picture

SQUARE = (50, 30, 110, 90)


@pytest.fixture(scope="module")
def on_square() -> Selector:
    s = Selector(None)
    s.set_image(picture(SQUARE))
    return s


@pytest.fixture(scope="module")
def on_two() -> Selector:
    s = Selector(None)
    s.set_image(picture(A, B))
    return s


def disk(cx: int, cy: int, r: float, shape=(120, 160)) -> np.ndarray:
    ys, xs = np.mgrid[:shape[0], :shape[1]]
    return (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r


def test_a_click_inside_a_uniform_square_returns_the_square(on_square):
    sheet = click(begin(None, 120, 160), on_square.predict, 80, 60, True)
    assert iou(sheet.now.mask, mask(SQUARE), EVERYWHERE) >= 0.95
    assert [(c.x, c.y, c.include) for c in sheet.now.clicks] == [(80.0, 60.0, True)]
    assert not sheet.now.labels.any()  # nothing accepted yet


def test_an_exclude_click_removes_what_it_touches(on_two):
    sheet = start_from(begin(None, 120, 160), mask(A, B))
    sheet = click(sheet, on_two.predict, 120, 60, False)
    assert np.count_nonzero(sheet.now.mask & mask(B)) <= 0.05 * np.count_nonzero(mask(B))
    assert iou(sheet.now.mask, mask(A), EVERYWHERE) >= 0.95


def test_an_exclude_click_on_nothing_is_no_step(on_two):
    sheet = begin(None, 120, 160)
    assert click(sheet, on_two.predict, 10, 10, False) is sheet


def test_a_dragged_box_starts_the_object_and_forgets_earlier_clicks(on_square):
    sheet = click(begin(None, 120, 160), on_square.predict, 5, 5, True)
    sheet = drag_box(sheet, on_square.predict, (40, 20, 120, 100))
    assert iou(sheet.now.mask, mask(SQUARE), EVERYWHERE) >= 0.95
    assert sheet.now.clicks == () and sheet.now.box == (40, 20, 120, 100)


@pytest.mark.parametrize("points, radius, expected", [
    ([(40, 50)], 6, disk(40, 50, 6)),
    ([(40, 50)], 0.5, disk(40, 50, 0.5)),  # one pixel
    ([(20, 20), (60, 20)], 3, mask((20, 17, 61, 24)) | disk(20, 20, 3) | disk(60, 20, 3)),
    ([(0, 0)], 4, disk(0, 0, 4)),  # clipped at the corner
    ([(10, 10), (10, 10)], 2, disk(10, 10, 2)),  # a point dragged nowhere
    ([], 5, np.zeros((120, 160), bool)),
])
def test_a_stroke_is_every_pixel_within_its_radius(points, radius, expected):
    assert np.array_equal(stroke((120, 160), points, radius), expected)


def test_the_brush_adds_exactly_the_disk_pixels():
    sheet = start_from(begin(None, 120, 160), mask(A))
    painted = paint(sheet, [(100, 100)], 7, add=True)
    assert np.array_equal(painted.now.mask, mask(A) | disk(100, 100, 7))
    assert np.count_nonzero(painted.now.mask) == np.count_nonzero(mask(A)) + np.count_nonzero(
        disk(100, 100, 7))


def test_the_eraser_removes_exactly_the_stroke_and_the_clicks_it_contradicts(on_square):
    sheet = click(begin(None, 120, 160), on_square.predict, 80, 60, True)
    sheet = click(sheet, on_square.predict, 100, 40, True)
    before = sheet.now.mask
    erased = paint(sheet, [(70, 60), (90, 60)], 12, add=False)
    assert np.array_equal(erased.now.mask, before & ~stroke((120, 160), [(70, 60), (90, 60)], 12))
    assert [(c.x, c.y) for c in erased.now.clicks] == [(100.0, 40.0)]


def test_undo_restores_the_exact_previous_mask_and_redo_the_next(on_two):
    steps = [lambda s: click(s, on_two.predict, 40, 50, True),
             lambda s: click(s, on_two.predict, 120, 60, True),
             lambda s: paint(s, [(5, 5), (30, 10)], 4, True),
             lambda s: paint(s, [(40, 50)], 9, False),
             lambda s: accept(s, 3)]
    sheet = begin(None, 120, 160)
    seen = [(sheet.now.labels.copy(), sheet.now.mask.copy())]
    for step in steps:
        sheet = step(sheet)
        seen.append((sheet.now.labels.copy(), sheet.now.mask.copy()))
    for labels, m in reversed(seen[:-1]):
        sheet = undo(sheet)
        assert np.array_equal(sheet.now.labels, labels) and np.array_equal(sheet.now.mask, m)
    assert undo(sheet) is sheet  # nothing before the start
    for labels, m in seen[1:]:
        sheet = redo(sheet)
        assert np.array_equal(sheet.now.labels, labels) and np.array_equal(sheet.now.mask, m)
    assert redo(sheet) is sheet


def test_a_new_step_after_undo_drops_the_redo():
    sheet = paint(begin(None, 20, 20), [(5, 5)], 2, True)
    sheet = paint(undo(sheet), [(15, 15)], 2, True)
    assert redo(sheet) is sheet
    assert not sheet.now.mask[5, 5] and sheet.now.mask[15, 15]


def test_history_is_bounded():
    sheet = begin(None, 20, 20)
    for i in range(HISTORY + 10):
        sheet = paint(sheet, [(i % 20, 3)], 1, i % 2 == 0)
    assert len(sheet.past) == HISTORY


def test_moments_cannot_be_changed_in_place():
    sheet = paint(begin(None, 20, 20), [(5, 5)], 2, True)
    with pytest.raises(ValueError):
        sheet.now.mask[0, 0] = True
    with pytest.raises(ValueError):
        sheet.now.labels[0, 0] = 1


@pytest.mark.parametrize("class_id", [1, 2, 7])
def test_accept_writes_the_object_with_its_class_over_what_was_there(class_id):
    saved = np.zeros((20, 30), np.uint8)
    saved[:, :10] = 5
    sheet = paint(begin(saved, 20, 30), [(8, 10), (20, 10)], 3, True)
    done = accept(sheet, class_id)
    want = saved.copy()
    want[stroke((20, 30), [(8, 10), (20, 10)], 3)] = class_id
    assert np.array_equal(done.now.labels, want)
    assert not done.now.mask.any() and not done.now.drawing


@pytest.mark.parametrize("class_id", [0, 255, -1])
def test_accept_refuses_a_class_that_is_not_one(class_id):
    with pytest.raises(ValueError, match="class_id"):
        accept(paint(begin(None, 9, 9), [(4, 4)], 2, True), class_id)


def test_accept_and_drop_with_nothing_drawn_are_no_steps():
    sheet = begin(None, 9, 9)
    assert accept(sheet, 1) is sheet and drop(sheet) is sheet


def test_drop_lets_a_new_object_go():
    sheet = drop(paint(begin(None, 9, 9), [(4, 4)], 2, True))
    assert not sheet.now.mask.any() and not sheet.now.labels.any()


def taken_sheet():
    """Two objects of class 2 and one of class 4; the left class-2 one is picked up."""
    saved = np.zeros((20, 40), np.uint8)
    saved[2:8, 2:8], saved[2:8, 30:36], saved[12:18, 10:20] = 2, 2, 4
    return saved, take(begin(saved, 20, 40), 4, 4)


def test_take_picks_up_the_connected_labelled_object_under_the_click():
    saved, sheet = taken_sheet()
    want = np.zeros((20, 40), bool)
    want[2:8, 2:8] = True
    assert np.array_equal(sheet.now.mask, want) and sheet.now.taken == 2
    assert not (sheet.now.labels[2:8, 2:8]).any() and (sheet.now.labels[2:8, 30:36] == 2).all()


def test_a_corrected_object_goes_back_with_its_new_shape():
    saved, sheet = taken_sheet()
    sheet = accept(paint(sheet, [(2, 2)], 2.5, False), 2)
    want = saved.copy()
    want[stroke((20, 40), [(2, 2)], 2.5) & (saved == 2)] = 0
    assert np.array_equal(sheet.now.labels, want)


def test_dropping_a_picked_up_object_puts_it_back_as_it_was():
    saved, sheet = taken_sheet()
    sheet = drop(paint(sheet, [(4, 4)], 3, False))
    assert np.array_equal(sheet.now.labels, saved)


def test_taking_background_is_no_step():
    saved, _ = taken_sheet()
    sheet = begin(saved, 20, 40)
    assert take(sheet, 25, 15) is sheet


def test_correcting_a_model_prediction_with_a_click(on_two):
    sheet = start_from(begin(None, 120, 160), mask(A, B))
    sheet = click(sheet, on_two.predict, 120, 60, False)
    sheet = accept(sheet, 1)
    assert iou(sheet.now.labels == 1, mask(A), EVERYWHERE) >= 0.95


def test_labels_from_outside_are_one_undoable_step():
    sheet = begin(None, 5, 5)
    carried = np.full((5, 5), 3, np.uint8)
    sheet = with_labels(sheet, carried)
    assert (sheet.now.labels == 3).all() and not undo(sheet).now.labels.any()


@pytest.mark.parametrize("call, named", [
    (lambda s: start_from(s, np.zeros((4, 4), bool)), "mask"),
    (lambda s: with_labels(s, np.zeros((4, 4), np.uint8)), "labels"),
    (lambda s: begin(np.zeros((4, 4), np.uint8), 9, 9), "labels"),
])
def test_masks_of_the_wrong_size_are_refused(call, named):
    with pytest.raises(ValueError, match=named):
        call(begin(None, 9, 9))


@pytest.mark.parametrize("name, expected", [
    ("person", mask(SQUARE)),  # the model's class of that name
    (" Person ", mask(SQUARE)),  # as a user types it
    ("scratch", mask(SQUARE)),  # a name the model does not know: all it finds
    (None, mask(SQUARE)),
    ("car", np.zeros((120, 160), bool)),  # a class it knows and does not see here
    ("background", mask(SQUARE)),  # never "the background" as an object
])
def test_a_models_prediction_as_the_starting_mask(name, expected):
    from livesegment.core.select.editing import predicted_mask
    from tests.conftest import fake_segmenter

    red = picture(SQUARE, colour=(0, 0, 255))  # the stand-in model calls red "person"
    got = predicted_mask(fake_segmenter(), red, name)
    assert got.dtype == bool
    if expected.any():
        assert iou(got, expected, EVERYWHERE) >= 0.9
    else:
        assert not got.any()
