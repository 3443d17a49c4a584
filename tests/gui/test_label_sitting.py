"""The labelling window's sitting: the class list edits saved with the dataset, every step
on disk when it is done, a reopened folder continuing where it stopped, and failures that
leave the window working and the labels saved."""

from __future__ import annotations

import numpy as np
import pytest

from livesegment.core.select import iou
from livesegment.core.select.editing import stroke
from livesegment.io.datasets.labelstore import LabelStore
from tests.gui.labelling import (HEIGHT, SQUARE, WIDTH, click_at, key, make_store, mask, now,
                                 open_window, settle, write_pictures)

EVERYWHERE = np.ones((HEIGHT, WIDTH), bool)


@pytest.fixture
def window(qtbot, tmp_path):
    return open_window(qtbot, make_store(tmp_path))


def names(store: LabelStore) -> list[str]:
    return [c.name for c in LabelStore.open(store.folder).classes]


def test_adding_renaming_and_recolouring_classes_is_saved_with_the_dataset(qtbot, window):
    editor, store = window.class_editor, window.store
    editor.ask_name = lambda parent, title, current: "dent"
    editor.add()
    qtbot.waitUntil(lambda: editor.list.count() == 3)
    assert names(store) == ["background", "box", "other", "dent"]
    assert editor.class_id() == 3  # the new class is the one to label next
    editor.ask_name = lambda parent, title, current: "scratch"
    editor.rename()
    qtbot.waitUntil(lambda: "scratch" in editor.list.item(2).text())
    editor.ask_colour = lambda parent, current: (1, 2, 3)
    editor.recolour()
    qtbot.waitUntil(lambda: LabelStore.open(store.folder).classes[3].colour == (1, 2, 3))
    assert names(store) == ["background", "box", "other", "scratch"]


def test_a_duplicate_name_is_refused_with_a_message(qtbot, window):
    window.class_editor.ask_name = lambda parent, title, current: "Box"
    window.class_editor.add()
    settle(qtbot, window)
    assert "there is a class called Box already" in window.statusBar().currentMessage()
    assert names(window.store) == ["background", "box", "other"]


def test_removing_a_class_with_pixels_is_refused_and_one_without_is_removed(qtbot, window):
    click_at(qtbot, window, 80, 60)
    key(qtbot, window, "Return")  # class 1, "box", now has pixels
    window.class_editor.select(1)
    window.class_editor.remove()
    settle(qtbot, window)
    assert "box" in window.statusBar().currentMessage() and "Error" in \
        window.statusBar().currentMessage()
    assert names(window.store) == ["background", "box", "other"]
    assert window.class_editor.list.count() == 2
    window.class_editor.select(2)
    window.class_editor.remove()
    qtbot.waitUntil(lambda: window.class_editor.list.count() == 1)
    settle(qtbot, window)
    assert names(window.store) == ["background", "box"]
    assert (window.store.labels("p0.png") == 1).any()


def test_every_step_is_on_disk_when_it_is_done(qtbot, window):
    store = window.store
    click_at(qtbot, window, 80, 60)
    drawn, class_id = store.draft("p0.png")
    assert np.array_equal(drawn, now(window).mask) and class_id == 1
    assert store.labels("p0.png") is None  # nothing accepted: no mask written
    window.canvas.stroked.emit([(10.0, 10.0)], 3.0, True)
    settle(qtbot, window)
    assert np.array_equal(store.draft("p0.png")[0], now(window).mask)
    assert store.draft("p0.png")[0][10, 10]
    key(qtbot, window, "Return")
    saved = store.labels("p0.png")
    assert np.array_equal(saved, now(window).labels) and store.draft("p0.png") is None
    assert iou(saved == 1, mask(SQUARE) | stroke((HEIGHT, WIDTH), [(10, 10)], 3),
               EVERYWHERE) >= 0.95
    key(qtbot, window, "Ctrl+Z")
    assert store.labels("p0.png") is None  # back to "nobody labelled it"
    assert np.array_equal(store.draft("p0.png")[0], now(window).mask)


def test_a_reopened_folder_continues_the_sitting(qtbot, tmp_path):
    window = open_window(qtbot, make_store(tmp_path))
    click_at(qtbot, window, 80, 60)
    key(qtbot, window, "Return")
    accepted = window.store.labels("p0.png").copy()
    key(qtbot, window, "Right")
    click_at(qtbot, window, 40, 50)
    drawing = now(window).mask.copy()
    folder = window.store.folder
    window.close()
    again = open_window(qtbot, LabelStore.open(folder))
    assert again.key == "p1.png"  # where the object was being drawn
    assert np.array_equal(now(again).mask, drawing)
    assert np.array_equal(again.store.labels("p0.png"), accepted)
    key(qtbot, again, "Return")
    assert iou(again.store.labels("p1.png") == 1, drawing, EVERYWHERE) == 1.0


def test_objects_left_on_several_pictures_all_come_back(qtbot, tmp_path):
    window = open_window(qtbot, make_store(tmp_path))
    click_at(qtbot, window, 80, 60)
    on_p0 = now(window).mask.copy()
    key(qtbot, window, "Right")
    click_at(qtbot, window, 40, 50)  # p0's object is left unaccepted
    on_p1 = now(window).mask.copy()
    folder = window.store.folder
    window.close()
    again = open_window(qtbot, LabelStore.open(folder))
    assert again.key == "p0.png"  # the first picture with an object being drawn
    assert np.array_equal(now(again).mask, on_p0)
    key(qtbot, again, "Right")
    assert np.array_equal(now(again).mask, on_p1)


def test_a_reopened_folder_without_a_draft_starts_at_the_first_unlabelled(qtbot, tmp_path):
    window = open_window(qtbot, make_store(tmp_path))
    click_at(qtbot, window, 80, 60)
    key(qtbot, window, "Return")
    folder = window.store.folder
    window.close()
    assert open_window(qtbot, LabelStore.open(folder)).key == "p1.png"


def test_a_selector_that_fails_leaves_a_message_and_a_working_window(qtbot, tmp_path):
    def broken():
        raise RuntimeError("out of memory in the model")

    window = open_window(qtbot, make_store(tmp_path), make_selector=broken)
    click_at(qtbot, window, 80, 60)
    assert "out of memory in the model" in window.statusBar().currentMessage()
    window.canvas.stroked.emit([(30.0, 30.0)], 4.0, True)  # the brush needs no selector
    settle(qtbot, window)
    assert np.array_equal(now(window).mask, stroke((HEIGHT, WIDTH), [(30, 30)], 4))
    key(qtbot, window, "Return")
    assert (window.store.labels("p0.png") == 1).sum() == stroke((HEIGHT, WIDTH), [(30, 30)],
                                                                4).sum()


def test_a_failed_save_is_said_and_the_next_step_saves_again(qtbot, window, monkeypatch):
    store = window.store
    real = store.save_labels

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device", str(store.folder / "masks"))

    click_at(qtbot, window, 80, 60)
    monkeypatch.setattr(store, "save_labels", full_disk)
    key(qtbot, window, "Return")
    assert "not saved" in window.statusBar().currentMessage()
    assert "No space left on device" in window.statusBar().currentMessage()
    assert (now(window).labels == 1).any() and store.labels("p0.png") is None
    monkeypatch.setattr(store, "save_labels", real)
    window.canvas.stroked.emit([(10.0, 10.0)], 2.0, True)
    settle(qtbot, window)
    assert np.array_equal(store.labels("p0.png"), now(window).labels)


def test_a_failing_model_is_said_and_nothing_changes(qtbot, tmp_path):
    def segment(name, bgr, class_name):
        raise ValueError("weights do not fit this network")

    window = open_window(qtbot, make_store(tmp_path), segment=segment)
    window.segment_with("broken.pt")
    qtbot.waitUntil(lambda: "weights do not fit" in window.statusBar().currentMessage())
    assert not now(window).mask.any() and window.isVisible()


def test_opening_a_folder_that_holds_other_files_is_refused_with_a_message(qtbot, window,
                                                                           tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    window.open_source(str(write_pictures(tmp_path / "more")), str(busy))
    qtbot.waitUntil(lambda: "not a livesegment label folder" in
                    window.statusBar().currentMessage(), timeout=10000)
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]
    assert window.key == "p0.png"  # still on the folder it had


def test_opening_pictures_makes_a_new_label_folder_and_shows_it(qtbot, window, tmp_path):
    window.ask_pictures = lambda parent: str(write_pictures(tmp_path / "more"))
    window.ask_new_folder = lambda parent, suggestion: suggestion
    window.actions_by_name["Open pictures"].trigger()
    qtbot.waitUntil(lambda: window.store.folder == tmp_path / "more-labels", timeout=10000)
    qtbot.waitUntil(lambda: window.canvas.composed() is not None
                    and window.sitting.sheet(window.key) is not None)
    assert window.keys == ["p0.png", "p1.png", "p2.png"]


def test_a_selector_model_that_cannot_load_falls_back_to_colour_and_says_so(qtbot, tmp_path):
    from livesegment.gui.label.sitting import default_selector

    said = []
    make = default_selector(str(tmp_path / "missing.pt"), said.append)
    window = open_window(qtbot, make_store(tmp_path), make_selector=make)
    click_at(qtbot, window, 80, 60)
    assert said and "missing.pt" in said[0] and "colour alone" in said[0]
    assert iou(now(window).mask, mask(SQUARE), EVERYWHERE) >= 0.95


def test_only_recent_or_unfinished_pictures_stay_in_memory(qtbot, window, monkeypatch):
    monkeypatch.setattr("livesegment.gui.label.sitting.SHEETS_KEPT", 1)
    click_at(qtbot, window, 80, 60)
    key(qtbot, window, "Return")  # p0: accepted and saved
    key(qtbot, window, "Right")
    click_at(qtbot, window, 40, 50)  # p1: an object being drawn, not accepted
    drawing = now(window).mask.copy()
    key(qtbot, window, "Right")
    assert window.sitting.sheet("p0.png") is None  # saved: its history may go
    assert np.array_equal(window.sitting.sheet("p1.png").now.mask, drawing)  # kept
    key(qtbot, window, "Home")
    assert iou(now(window).labels == 1, mask(SQUARE), EVERYWHERE) >= 0.95  # read back
