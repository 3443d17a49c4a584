"""The next picture prepared for the selector while the user clicks on this one: stepping to
it needs no preparation, and a click is never kept waiting behind one."""

from __future__ import annotations

import threading

import numpy as np

from livesegment.core.select import PlainGrabCut, Selector, iou
from livesegment.gui.label.ahead import PreparedPictures, Ready
from tests.gui.labelling import A, B, SQUARE, click_at, key, make_store, mask, now, open_window

AHEAD = "livesegment-prepare-ahead"  # the preparing thread's name
PREPARING = "Preparing the picture…"


class SlowAhead(Selector):
    """The colour-only selector whose preparations ahead wait for ``release`` (a slow model
    on a busy CPU); it notes the thread of every preparation."""

    def __init__(self, released: bool = True) -> None:
        super().__init__(None)
        self.release = threading.Event()
        if released:
            self.release.set()
        self.threads: list[str] = []

    def prepare(self, bgr: np.ndarray):
        self.threads.append(threading.current_thread().name)
        if threading.current_thread().name == AHEAD:
            assert self.release.wait(30)
        return super().prepare(bgr)


def test_stepping_to_a_picture_prepared_ahead_needs_no_preparation(qtbot, tmp_path):
    selector = SlowAhead()
    window = open_window(qtbot, make_store(tmp_path), make_selector=lambda: selector)
    qtbot.waitUntil(lambda: window.sitting.prepared.get("p1.png") is not None, timeout=20000)
    assert selector.threads == ["livesegment-labelling", AHEAD]  # p0 shown, p1 ahead
    said: list[str] = []
    window.sitting.busy.connect(said.append)
    key(qtbot, window, "Right")
    assert window.key == "p1.png"
    click_at(qtbot, window, 40, 50)
    assert iou(now(window).mask, mask(A), np.ones_like(mask(A))) >= 0.95
    assert PREPARING not in said
    assert selector.threads[:2] == ["livesegment-labelling", AHEAD]
    assert "livesegment-labelling" not in selector.threads[2:]  # p1 was not prepared again


def test_a_click_is_answered_while_the_next_picture_is_being_prepared(qtbot, tmp_path):
    selector = SlowAhead(released=False)
    window = open_window(qtbot, make_store(tmp_path), make_selector=lambda: selector)
    try:
        qtbot.waitUntil(lambda: window.sitting.prepared.preparing("p1.png"), timeout=20000)
        click_at(qtbot, window, 80, 60)  # waits for the worker only, not for p1
        assert iou(now(window).mask, mask(SQUARE), np.ones_like(mask(SQUARE))) >= 0.95
        assert window.sitting.prepared.preparing("p1.png")  # still stuck: it did not wait
    finally:
        selector.release.set()
    key(qtbot, window, "Right")  # the one in flight is waited for, not done twice
    click_at(qtbot, window, 40, 50)
    assert iou(now(window).mask, mask(A), np.ones_like(mask(A))) >= 0.95
    assert selector.threads.count("livesegment-labelling") == 1


def test_stepping_back_prepares_the_picture_before(qtbot, tmp_path):
    store = make_store(tmp_path)
    for name in ("p0.png", "p1.png"):  # labelled: the sitting continues at p2
        store.save_labels(name, np.zeros((120, 160), np.uint8))
    selector = SlowAhead()
    window = open_window(qtbot, store, make_selector=lambda: selector)
    assert window.key == "p2.png" and window.sitting.prepared.idle()
    key(qtbot, window, "Left")
    qtbot.waitUntil(lambda: window.sitting.prepared.get("p0.png") is not None, timeout=20000)
    assert window.key == "p1.png" and selector.threads.count(AHEAD) == 1


def test_a_selector_without_prepare_is_set_each_picture_as_before(qtbot, tmp_path):
    window = open_window(qtbot, make_store(tmp_path), make_selector=PlainGrabCut)
    click_at(qtbot, window, 80, 60)
    assert iou(now(window).mask, mask(SQUARE), np.ones_like(mask(SQUARE))) >= 0.9
    key(qtbot, window, "Right")
    click_at(qtbot, window, 40, 50)  # p1's picture, set when shown (GrabCut takes both)
    assert now(window).mask[mask(A)].mean() > 0.9 and not now(window).mask[~mask(A, B)].any()
    assert window.sitting.prepared.idle() and window.sitting.prepared.get("p2.png") is None


def test_the_newest_wish_wins_one_in_flight_is_waited_for_and_three_are_kept(qtbot):
    gate, order = threading.Event(), []

    def prepare(bgr: np.ndarray) -> int:
        assert gate.wait(10)
        order.append(int(bgr[0, 0, 0]))
        return int(bgr[0, 0, 0])

    pictures = PreparedPictures(lambda key: np.full((2, 2, 3), int(key), np.uint8))
    pictures.ahead("1", prepare)
    qtbot.waitUntil(lambda: pictures.preparing("1"), timeout=5000)
    pictures.ahead("2", prepare)
    pictures.ahead("3", prepare)  # 2 never started: dropped for 3
    gate.set()
    assert pictures.take("1").prepared == 1  # the one in flight, waited for
    qtbot.waitUntil(pictures.idle, timeout=5000)
    assert order == [1, 3] and pictures.get("2") is None and pictures.get("3").prepared == 3
    for name in "456":
        pictures.put(name, Ready(np.zeros((2, 2, 3), np.uint8), name))
    assert [k for k in "13456" if pictures.get(k) is not None] == ["4", "5", "6"]
    pictures.close()
