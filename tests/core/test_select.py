"""The selector on crafted pictures: what a click selects, what an exclude click removes, that
a correction stays near its click, the click protocol's maths, and bad prompts."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from livesegment.core.select import Click, ClickTrace, PlainGrabCut, Selector, iou, next_click

GREEN, PALE = (40, 90, 30), (200, 200, 230)


def picture(*squares: tuple[int, int, int, int], height: int = 120, width: int = 160,
            colour=PALE) -> np.ndarray:
    """A noisy green field with pale squares (x0, y0, x1, y1)."""
    rng = np.random.default_rng(0)
    img = np.clip(np.full((height, width, 3), GREEN) + rng.normal(0, 6, (height, width, 3)),
                  0, 255).astype(np.uint8)
    for x0, y0, x1, y1 in squares:
        img[y0:y1, x0:x1] = colour
    return img


def mask(*squares: tuple[int, int, int, int], height: int = 120, width: int = 160) -> np.ndarray:
    out = np.zeros((height, width), bool)
    for x0, y0, x1, y1 in squares:
        out[y0:y1, x0:x1] = True
    return out


EVERYWHERE = np.ones((120, 160), bool)
A, B = (20, 30, 60, 70), (100, 40, 140, 80)


@pytest.fixture
def selector() -> Selector:
    return Selector(None)


@pytest.mark.parametrize("engine", [lambda: Selector(None), PlainGrabCut])
def test_a_click_inside_a_square_returns_the_square(engine):
    s = engine()
    s.set_image(picture((50, 30, 110, 90)))
    got = s.predict([(80, 60, True)])
    assert got.dtype == bool and got.shape == (120, 160)
    assert iou(got, mask((50, 30, 110, 90)), EVERYWHERE) >= 0.95


def test_a_box_alone_selects_what_it_holds(selector):
    selector.set_image(picture((50, 30, 110, 90)))
    got = selector.predict([], box=(40, 20, 120, 100))
    assert iou(got, mask((50, 30, 110, 90)), EVERYWHERE) >= 0.95


def test_an_exclude_click_removes_the_region_it_touches(selector):
    selector.set_image(picture(A, B))
    both = mask(A, B)
    got = selector.predict([(40, 50, True), (120, 60, False)], previous=both)
    assert np.count_nonzero(got & mask(B)) <= 0.05 * np.count_nonzero(mask(B))
    assert iou(got, mask(A), EVERYWHERE) >= 0.95


def test_an_include_click_adds_a_missed_region(selector):
    selector.set_image(picture(A, B))
    got = selector.predict([(40, 50, True), (120, 60, True)], previous=mask(A))
    assert iou(got, mask(A, B), EVERYWHERE) >= 0.95


def test_a_correction_changes_only_near_its_click(selector):
    """The earlier mask holds a wrong strip of field far from the click; a global re-cut would
    drop it, a correction must leave it (and everything else away from the click) alone."""
    selector.set_image(picture(A, B))
    strip = (0, 0, 10, 120)  # green field along the left edge, wrongly marked earlier
    previous = mask(A, B, strip)
    got = selector.predict([(40, 50, True), (120, 60, False)], previous=previous)
    changed = np.argwhere(got != previous)
    assert len(changed) > 0.9 * 40 * 40  # square B went
    far = np.hypot(changed[:, 0] - 60, changed[:, 1] - 120)
    assert far.max() <= 0.5 * 160  # the focus window: within half the long side of the click
    assert got[mask(strip)].all() and got[mask(A)].all()


def test_a_click_that_agrees_with_the_previous_mask_changes_nothing(selector):
    selector.set_image(picture(A))
    previous = mask(A)
    assert np.array_equal(selector.predict([(40, 50, True), (5, 5, False)], previous=previous),
                          previous)


def test_exclude_clicks_alone_select_nothing(selector):
    selector.set_image(picture(A))
    assert not selector.predict([(5, 5, False)]).any()


@pytest.mark.parametrize("call, named", [
    (lambda s: s.set_image(np.zeros((0, 10, 3), np.uint8)), "bgr"),
    (lambda s: s.set_image(np.zeros((10, 10), np.uint8)), "bgr"),
    (lambda s: s.set_image("photo.jpg"), "bgr"),
    (lambda s: Selector(None).predict([(1, 1, True)]), "set_image"),
    (lambda s: s.predict([(160, 5, True)]), "clicks[0]"),
    (lambda s: s.predict([(5, 5, True), (5, -1, False)]), "clicks[1]"),
    (lambda s: s.predict([(5, 5, "yes")]), "clicks[0]"),
    (lambda s: s.predict([(5, 5)]), "clicks[0]"),
    (lambda s: s.predict((5, 5, True)), "clicks[0]"),
    (lambda s: s.predict([], box=(10, 10, 10, 50)), "box"),
    (lambda s: s.predict([(5, 5, True)], previous=np.zeros((10, 10), bool)), "previous"),
])
def test_bad_arguments_raise_value_error_naming_them(selector, call, named):
    selector.set_image(picture(A))
    with pytest.raises(ValueError, match="^" + re.escape(named)):
        call(selector)


# The protocol's maths, by hand.

def test_iou_counts_only_valid_pixels():
    truth, got = mask((0, 0, 10, 10)), mask((0, 0, 10, 20))
    assert iou(got, truth, EVERYWHERE) == pytest.approx(100 / 200)
    assert iou(got, truth, ~mask((0, 10, 10, 20))) == 1.0  # the extra rows ignored
    assert iou(mask(), mask(), EVERYWHERE) == 1.0


@pytest.mark.parametrize("got, truth, expected", [
    (mask(), mask((20, 20, 31, 31)), Click(25, 25, True)),  # a miss: its centre, include
    (mask((20, 20, 31, 31), (100, 50, 107, 57)), mask((20, 20, 31, 31)), Click(103, 53, False)),
    # two wrong areas: the larger decides (a 7x7 false one beside a 3x3 miss)
    (mask((100, 50, 107, 57)), mask((0, 0, 3, 3)), Click(103, 53, False)),
    (mask((0, 0, 5, 5)), mask((0, 0, 5, 5)), None),
])
def test_the_next_click_is_at_the_centre_of_the_largest_wrong_region(got, truth, expected):
    assert next_click(got, truth, EVERYWHERE) == expected


def test_the_picture_border_counts_as_the_edge_of_a_wrong_region():
    # a 9-wide miss along the left border: its centre is 4 px in, not on the border
    assert next_click(mask(), mask((0, 0, 9, 120)), EVERYWHERE).x == 4


def test_an_ignored_band_is_never_clicked():
    truth = mask((20, 20, 31, 31))
    band = mask((0, 0, 160, 120)) & ~mask((20, 20, 31, 31))
    assert next_click(truth, truth, ~band) is None
    assert next_click(mask(), truth, ~band) == Click(25, 25, True)


@pytest.mark.parametrize("ious, threshold, expected", [
    ((0.5, 0.86, 0.91), 0.85, 2), ((0.5, 0.86, 0.91), 0.90, 3), ((0.5, 0.6), 0.9, 20),
    ((0.95, 0.8), 0.9, 1),
])
def test_clicks_to_a_threshold(ious, threshold, expected):
    assert ClickTrace("x", ious, ()).clicks_to(threshold, 20) == expected


def test_the_same_prompts_give_the_same_mask(selector):
    rng = np.random.default_rng(1)  # a noisy picture: GrabCut's k-means has choices to make
    selector.set_image(np.clip(picture(A, B) + rng.normal(0, 25, (120, 160, 3)), 0, 255)
                       .astype(np.uint8))
    first = selector.predict([(40, 50, True)])
    assert np.array_equal(selector.predict([(40, 50, True)]), first)


def test_a_picture_prepared_on_another_thread_selects_as_set_image_does(selector):
    """prepare() leaves the current picture alone; use() of it answers as set_image would."""
    import threading

    selector.set_image(picture(SQUARE_C))
    on_a = selector.predict([(80, 60, True)])
    done = []
    worker = threading.Thread(target=lambda: done.append(selector.prepare(picture(A, B))))
    worker.start()
    worker.join()
    assert np.array_equal(selector.predict([(80, 60, True)]), on_a)  # still the square
    selector.use(done[0])
    prepared = selector.predict([(40, 50, True)])
    plain = Selector(None)
    plain.set_image(picture(A, B))
    assert np.array_equal(prepared, plain.predict([(40, 50, True)]))
    assert iou(prepared, mask(A), EVERYWHERE) >= 0.95
    with pytest.raises(dataclasses.FrozenInstanceError):
        done[0].scale = 2.0  # a value: handed between threads, never changed


SQUARE_C = (50, 30, 110, 90)
