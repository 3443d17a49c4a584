"""The labelling window on a video (an accepted mask carried through the frames, the timeline
marks, a correction re-seeding) and "Train on these labels…" (progress, Cancel, the offer
of the result as the live model)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from livesegment.gui.label.timeline import Mark
from livesegment.gui.label.training import clock
from livesegment.io.datasets.labelstore import LabelClass, LabelStore
from livesegment.pipeline.training import TrainConfig
from livesegment.pipeline.training.transforms import AugmentSettings
from tests.conftest import make_clip
from tests.gui.labelling import click_at, key, now, open_window, settle
from tests.pipeline.synthetic import synthetic_set
from tests.pipeline.test_labelling import H, W, iou, square

FRAMES = 8  # fewer than the pipeline's own tests: the window's part is what is tested here
CLASSES = (LabelClass("background", (0, 0, 0)), LabelClass("box", (230, 40, 40)))


@pytest.fixture
def video(qtbot, tmp_path):
    clip = tmp_path / "moving.mp4"
    make_clip(clip, frames=FRAMES, size=(H, W))
    return open_window(qtbot, LabelStore.create(tmp_path / "labels", clip, CLASSES))


def carried(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.carrier.running, timeout=60000)
    settle(qtbot, window)


def test_an_accepted_mask_is_carried_through_the_video_and_marked(qtbot, video):
    store = video.store
    key(qtbot, video, "Right")
    key(qtbot, video, "Right")  # frame 2: carried forwards and backwards
    click_at(qtbot, video, 4 * 2 + 16, 40)
    assert iou(now(video).mask, square(2)) > 0.9
    key(qtbot, video, "Return")
    carried(qtbot, video)
    marks = video.timeline.marks()
    assert marks[2] is Mark.LABELLED
    assert {i for i, m in marks.items() if m in (Mark.CARRIED, Mark.LOOK)} == \
        set(range(FRAMES)) - {2}
    for i, k in enumerate(store.keys()):
        assert iou(store.labels(k) == 1, square(i)) > 0.85, i
        assert store.status(k).human is (i == 2)
    assert "Carried to 7 frames" in video.statusBar().currentMessage()
    key(qtbot, video, "Right")  # a carried frame opens with its carried labels
    assert iou(now(video).labels == 1, square(3)) > 0.85


def test_a_correction_on_a_carried_frame_reseeds_from_there(qtbot, video):
    store = video.store
    click_at(qtbot, video, 16, 40)
    key(qtbot, video, "Return")
    carried(qtbot, video)
    key(qtbot, video, "End")
    last = video.index
    click_at(qtbot, video, 4 * last + 16, 40, )  # picks the square again on the last frame
    video.canvas.stroked.emit([(4.0 * last + 2, 30.0)], 3.0, False)  # and trims a corner
    settle(qtbot, video)
    corrected = now(video).labels.copy()
    corrected[now(video).mask] = 1
    key(qtbot, video, "Return")
    carried(qtbot, video)
    assert np.array_equal(store.labels(store.keys()[last]), corrected)
    assert store.status(store.keys()[last]).human and store.status(store.keys()[0]).human
    assert video.timeline.marks()[last] is Mark.LABELLED
    for i in range(1, last):  # carried again, between the two frames a person accepted
        assert not store.status(store.keys()[i]).human


def test_next_to_look_at_goes_to_the_frames_marked_so(qtbot, video):
    video.timeline.set_marks({5: Mark.LOOK, 1: Mark.CARRIED})
    key(qtbot, video, "N")
    assert video.index == 5
    video.timeline.set_marks({})
    key(qtbot, video, "N")
    assert video.index == 5 and "No frame needs a look" in video.statusBar().currentMessage()


@pytest.mark.parametrize("seconds, text", [(0, "0:00"), (65, "1:05"), (3723, "1:02:03")])
def test_time_left_reads_as_a_clock(seconds, text):
    assert clock(seconds) == text


@pytest.fixture
def shapes(qtbot, tmp_path):
    (tmp_path / "pics").mkdir()
    samples = synthetic_set(8)
    for sample in samples:
        cv2.imwrite(str(tmp_path / "pics" / sample.name), sample.image)
    classes = (LabelClass("background", (0, 0, 0)), LabelClass("square", (230, 40, 40)),
               LabelClass("disc", (40, 220, 40)))
    store = LabelStore.create(tmp_path / "labels", tmp_path / "pics", classes)
    for sample in samples:
        store.save_labels(sample.name, sample.labels)
    return open_window(qtbot, store)


FAST = TrainConfig(size=64, batch=4, epochs=1, seed=1, patience=None, threads=1,
                   augment=AugmentSettings(crop=64))


def test_training_shows_progress_and_offers_the_model_as_the_live_one(qtbot, shapes, tmp_path):
    offered = []
    shapes.model_ready.connect(offered.append)
    shapes.ask_training = lambda parent, suggestion: (tmp_path / "shapes.pt", 1.0, False)
    shapes.actions_by_name["Train on these labels"].trigger()
    dialog = shapes.training
    assert dialog is not None and dialog.isVisible()
    dialog.run.cancel()  # it plans for the minute asked; a short run is started below
    qtbot.waitUntil(lambda: not dialog.running, timeout=120000)
    dialog.close()
    dialog = shapes.train(tmp_path / "fast.pt", 1.0, config=FAST)
    seen = []
    dialog._progress.connect(lambda p: seen.append((p.step, p.total_steps)))
    qtbot.waitUntil(lambda: dialog.use_button.isEnabled(), timeout=300000)
    assert seen and seen[-1][0] == seen[-1][1] > 0
    assert dialog.bar.value() == dialog.bar.maximum()
    assert "Saved" in dialog.status.text() and str(tmp_path / "fast.pt") in dialog.status.text()
    dialog.use_button.click()
    assert offered == [str(tmp_path / "fast.pt")] and (tmp_path / "fast.pt").is_file()


def test_cancel_stops_training_and_keeps_the_window(qtbot, shapes, tmp_path):
    config = TrainConfig(**{**FAST.__dict__, "epochs": 200})
    dialog = shapes.train(tmp_path / "long.pt", 1.0, config=config)
    qtbot.waitUntil(lambda: dialog.bar.maximum() > 0, timeout=120000)
    dialog.cancel_button.click()
    assert "Stopping" in dialog.status.text()
    qtbot.waitUntil(lambda: not dialog.running, timeout=120000)
    settle(qtbot, shapes)
    assert dialog.cancel_button.text() == "Close"
    assert shapes.isVisible() and shapes.store.labelled()


def test_training_into_an_existing_file_without_consent_fails_with_a_message(qtbot, shapes,
                                                                              tmp_path):
    (tmp_path / "kept.pt").write_bytes(b"someone's model")
    dialog = shapes.train(tmp_path / "kept.pt", 1.0, config=FAST)
    qtbot.waitUntil(lambda: not dialog.running, timeout=30000)
    assert "exists" in dialog.status.text()
    assert (tmp_path / "kept.pt").read_bytes() == b"someone's model"
    assert not dialog.use_button.isEnabled()


def test_training_with_nothing_labelled_is_refused(qtbot, video):
    video.actions_by_name["Train on these labels"].trigger()
    assert "label a few pictures first" in video.statusBar().currentMessage()


def test_enter_with_nothing_drawn_carries_nothing(qtbot, video):
    key(qtbot, video, "Return")
    settle(qtbot, video)
    assert video.carrier.run is None and not video.store.labelled()
    assert "Error" not in video.statusBar().currentMessage()
