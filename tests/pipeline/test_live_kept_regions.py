"""Clicked regions kept in front in live mode: selected from a click, carried along the
following frames, released by a second click or all at once, on a thread of their own."""

from __future__ import annotations

import time

import numpy as np
import pytest

from livesegment.core.frames import Frame
from livesegment.pipeline.kept_regions import (
    KEEPING, LOST, LOST_AFTER, NOTHING, TOO_BIG, KeptRegions, union_at,
)

H, W = 360, 480
SIDE = 100  # the green square's side


def picture(left: int = 150, top: int = 120, seed: int = 0) -> np.ndarray:
    """A grey-blue noisy background (which the model calls background) with a flat green
    square at (left, top)."""
    rng = np.random.default_rng(seed)
    bgr = rng.integers(90, 140, (H, W, 3), dtype=np.uint8)
    bgr[..., 0] += np.linspace(0, 60, W, dtype=np.uint8)[None, :]
    bgr[top:top + SIDE, left:left + SIDE] = (40, 200, 40)
    return bgr


def square(left: int = 150, top: int = 120) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[top:top + SIDE, left:left + SIDE] = True
    return mask


def frame(index: int, left: int = 150, top: int = 120) -> Frame:
    return Frame(index, index / 30, picture(left, top, seed=index), captured_at=100.0 + index)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return np.count_nonzero(a & b) / np.count_nonzero(a | b)


def kept(regions: KeptRegions) -> np.ndarray:
    union = regions.region_for((H, W, 3))
    assert union is not None and set(np.unique(union)) <= {0, 255}
    return union == 255


def test_a_click_on_an_object_keeps_its_region():
    regions = KeptRegions(side=240)  # half size: the union is enlarged back
    assert regions.region_for((H, W, 3)) is None
    assert regions.select_now(frame(0), 200, 170) == KEEPING
    assert regions.count == 1
    assert iou(kept(regions), square()) > 0.95
    assert regions.region_for((H + 2, W, 3)) is None  # another size: not this frame's


def test_the_region_follows_the_object_along_the_frames():
    regions = KeptRegions()
    regions.select_now(frame(0), 200, 170)
    for i in range(1, 8):
        regions.step(frame(i, left=150 + 6 * i, top=120 + 2 * i))
    assert iou(kept(regions), square(150 + 42, 134)) > 0.9
    regions.step(frame(3, left=150 + 18, top=126))  # an older frame: no step back
    assert iou(kept(regions), square(150 + 42, 134)) > 0.9


@pytest.mark.parametrize("where, released", [("centre", True), ("far", False),
                                             ("last shown pixel", True), ("next pixel", False)])
def test_a_second_click_on_the_region_releases_it_where_it_is_shown(where, released):
    regions = KeptRegions()
    regions.select_now(frame(0), 200, 170)
    row = kept(regions)[170]
    edge = int(np.nonzero(row)[0].max())  # the region's right edge as the composer draws it
    x = {"centre": 200, "far": 20, "last shown pixel": edge, "next pixel": edge + 1}[where]
    assert 245 <= edge <= 252  # the square's edge (column 249), give or take the small copy
    assert regions.release_at(x, 170, (H, W, 3)) is released
    assert (regions.region_for((H, W, 3)) is None) is released
    assert regions.count == (0 if released else 1)


def test_two_regions_are_kept_and_released_one_by_one():
    two = picture()
    two[20:80, 350:420] = (200, 40, 200)  # a purple box too
    regions = KeptRegions()
    first = Frame(0, 0.0, two, captured_at=1.0)
    assert regions.select_now(first, 200, 170) == KEEPING
    assert regions.select_now(first, 380, 50) == KEEPING
    both = square()
    both[20:80, 350:420] = True
    assert iou(kept(regions), both) > 0.93
    assert regions.release_at(380, 50, (H, W, 3))
    assert iou(kept(regions), square()) > 0.95


def test_clear_releases_everything_and_a_click_made_before_it_is_dropped():
    regions = KeptRegions()
    regions.select_now(frame(0), 200, 170)
    regions.clear()
    assert regions.count == 0 and regions.region_for((H, W, 3)) is None
    assert regions.select_now(frame(0), 200, 170, cleared=0) == ""  # clicked before the clear
    assert regions.count == 0
    assert regions.select_now(frame(0), 200, 170, cleared=1) == KEEPING


def test_a_click_on_the_background_itself_is_refused():
    flat = np.full((H, W, 3), 120, np.uint8)
    flat[:40, :40] = (0, 0, 250)
    regions = KeptRegions()
    assert regions.select_now(Frame(0, 0.0, flat, 1.0), 300, 300) == TOO_BIG
    assert regions.count == 0


def test_a_click_that_finds_nothing_keeps_nothing():
    """A one-colour picture: the click's colour model has no background to tell it from,
    so the click alone is the object; that speck is smaller than the click's own seed."""
    regions = KeptRegions()
    said = regions.select_now(Frame(0, 0.0, np.zeros((H, W, 3), np.uint8), 1.0), 10, 10)
    assert said in (NOTHING, TOO_BIG) and regions.count == 0


def test_frames_of_another_size_drop_the_regions_and_say_so():
    heard = []
    regions = KeptRegions(heard.append)
    regions.select_now(frame(0), 200, 170)
    regions.step(Frame(1, 0.1, np.zeros((H // 2, W // 2, 3), np.uint8), 200.0))
    assert regions.count == 0 and heard == [LOST]


def test_a_region_that_leaves_the_picture_is_lost():
    heard = []
    regions = KeptRegions(heard.append)
    regions.select_now(frame(0), 200, 170)
    for i in range(1, LOST_AFTER):  # no square any more: doubtful steps, still kept
        regions.step(Frame(i, i / 30, picture(left=-1000, seed=i), captured_at=100.0 + i))
        assert regions.count == 1 and heard == []
    regions.step(Frame(9, 0.3, picture(left=-1000, seed=9), captured_at=109.0))
    assert heard == [LOST] and regions.count == 0


def test_the_thread_selects_and_carries_from_offered_frames():
    """The compose stage's side: ``select`` and ``offer`` return at once, the work happens on
    the regions' own thread, and the newest union is there to read."""
    heard = []
    regions = KeptRegions(heard.append)
    try:
        regions.offer(frame(0))  # nothing kept: nothing to carry
        t0 = time.perf_counter()
        regions.select(frame(0), 200, 170)
        assert time.perf_counter() - t0 < 0.05  # only queued
        deadline = time.monotonic() + 20
        while not heard and time.monotonic() < deadline:
            time.sleep(0.01)
        assert heard == [KEEPING]
        moved = frame(5, left=180, top=130)
        while time.monotonic() < deadline:
            regions.offer(moved)
            time.sleep(0.05)
            if iou(kept(regions), square(180, 130)) > 0.9:
                break
        assert iou(kept(regions), square(180, 130)) > 0.9
    finally:
        regions.stop()
    assert not regions._thread.is_alive()


def test_the_thread_carries_at_most_its_steps_a_second():
    """Bounded work: offered every 10 ms, it steps no more often than it was told to."""
    regions = KeptRegions(steps_per_s=5.0)
    steps = []
    step = regions.step
    regions.step = lambda f: (steps.append(time.monotonic()), step(f))
    regions.select_now(frame(0), 200, 170)
    regions.select(frame(1), 20, 20)  # starts the thread
    try:
        start = time.monotonic()
        for i in range(2, 102):
            regions.offer(frame(i))
            time.sleep(0.01)
        elapsed = time.monotonic() - start
    finally:
        regions.stop()
    assert 1 <= len(steps) <= elapsed * 5.0 + 1
    assert all(b - a >= 0.19 for a, b in zip(steps, steps[1:]))


@pytest.mark.parametrize("masks, size, expected", [
    (["10 00", "00 01"], (2, 2), "10 01"),
    (["11 00"], (2, 2), "11 00"),
    (["10 00", "10 00"], (2, 2), "10 00"),
    # enlarged twice: each small pixel becomes its 2x2 block (halfway of the bilinear ramp)
    (["10 00"], (4, 4), "1100 1100 0000 0000"),
    (["01 01"], (4, 4), "0011 0011 0011 0011"),
])
def test_the_union_of_the_regions_at_the_frame_size(masks, size, expected):
    def grid(text: str) -> np.ndarray:
        return np.array([[c == "1" for c in row] for row in text.split()])
    assert np.array_equal(union_at(tuple(grid(m) for m in masks), size),
                          grid(expected).astype(np.uint8) * 255)
