"""The labelling window's background work: labels carried through a video (a square that
moves, IoU by hand), cancelled, re-seeded by a correction; training on the labels."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from livesegment import api
from livesegment.cli import main
from livesegment.core.models.zoo import get_spec
from livesegment.errors import InputError, OutputError
from livesegment.io.datasets.labelstore import FrameStatus, LabelClass, LabelStore
from livesegment.pipeline.labelling import (
    carry_labels, start_carrying, start_training, train_on_labels,
)
from livesegment.pipeline.training import TrainConfig
from livesegment.pipeline.training.transforms import AugmentSettings
from tests.conftest import make_clip
from tests.pipeline.synthetic import synthetic_set

H, W, SIDE, FRAMES = 96, 128, 32, 10
CLASSES = (LabelClass("background", (0, 0, 0)), LabelClass("box", (230, 40, 40)),
           LabelClass("other", (40, 40, 230)))


def square(index: int) -> np.ndarray:
    """Where conftest's synthetic_frame draws the red square on frame ``index``."""
    mask = np.zeros((H, W), bool)
    x = (index * 4) % (W - SIDE)
    mask[H // 4: H // 4 + SIDE, x: x + SIDE] = True
    return mask


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return np.count_nonzero(a & b) / np.count_nonzero(a | b)


@pytest.fixture
def video(tmp_path) -> LabelStore:
    clip = tmp_path / "moving.mp4"
    make_clip(clip, frames=FRAMES, size=(H, W))
    return LabelStore.create(tmp_path / "labels", clip, CLASSES)


def test_the_square_is_followed_both_ways_from_the_accepted_frame(video):
    keys = video.keys()
    video.save_labels(keys[4], square(4).astype(np.uint8))
    heard = []
    result = carry_labels(video, keys[4], on_frame=heard.append)
    assert result.frames == (5, 6, 7, 8, 9, 3, 2, 1, 0) and not result.stopped
    assert [f.index for f in heard] == list(result.frames) and result.needs_look == ()
    for frame in heard:
        labels = video.labels(frame.key)
        assert np.array_equal(labels, frame.labels) and set(np.unique(labels)) == {0, 1}
        assert iou(labels == 1, square(frame.index)) > 0.9, frame.index
        assert video.status(frame.key) == FrameStatus(False, frame.confidence)
        assert frame.confidence >= 0.6 and not frame.needs_look
    assert video.status(keys[4]) == FrameStatus(True, 1.0)
    reopened = LabelStore.open(video.folder)  # who labelled what survives the sitting
    assert [reopened.status(k).human for k in keys] == [i == 4 for i in range(FRAMES)]


def test_a_lost_object_stops_the_run_and_marks_the_frame(video):
    keys = video.keys()
    wrong = np.zeros((H, W), np.uint8)
    wrong[70:90, 100:120] = 1  # a patch of the gradient: its colours are everywhere
    video.save_labels(keys[0], wrong)
    result = carry_labels(video, keys[0], threshold=0.99)
    assert result.frames == (1,) and result.needs_look == (1,)
    assert video.status(keys[1]).confidence < 0.99 and video.labels(keys[2]) is None


def test_cancelling_keeps_the_frames_done_and_writes_no_more(video):
    keys = video.keys()
    video.save_labels(keys[0], square(0).astype(np.uint8))
    ready = threading.Event()

    def cancel_at_once(frame):
        ready.wait(5)  # until ``run`` below is assigned
        run.cancel()

    run = start_carrying(video, keys[0], on_frame=cancel_at_once)
    ready.set()
    result = run.result(timeout=60)
    assert result.stopped and result.frames == (1,)
    assert video.labels(keys[1]) is not None
    assert [video.labels(k) for k in keys[2:]] == [None] * (FRAMES - 2)


def test_a_correction_reseeds_up_to_the_next_accepted_frames(video):
    keys = video.keys()
    video.save_labels(keys[0], square(0).astype(np.uint8))
    carry_labels(video, keys[0])
    video.save_labels(keys[8], square(8).astype(np.uint8))  # a person accepted frame 8
    relabelled = (square(4) * 2).astype(np.uint8)  # frame 4 corrected: the box is "other"
    video.save_labels(keys[4], relabelled)
    result = carry_labels(video, keys[4])
    assert result.frames == (5, 6, 7, 3, 2, 1)
    classes = [set(np.unique(video.labels(k)).tolist()) for k in keys]
    assert classes == [{0, 1}, {0, 2}, {0, 2}, {0, 2}, {0, 2}, {0, 2}, {0, 2}, {0, 2},
                       {0, 1}, {0, 1}]
    assert np.array_equal(video.labels(keys[0]), square(0))
    assert np.array_equal(video.labels(keys[8]), square(8))  # the person's, untouched
    for index in (1, 2, 3, 5, 6, 7):
        assert iou(video.labels(keys[index]) == 2, square(index)) > 0.9


def test_carrying_needs_a_video_and_a_seed(video, tmp_path):
    with pytest.raises(InputError, match="has no labels to carry"):
        carry_labels(video, video.keys()[0])
    pics = tmp_path / "pics"
    pics.mkdir()
    cv2.imwrite(str(pics / "a.png"), np.zeros((8, 8, 3), np.uint8))
    store = LabelStore.create(tmp_path / "p", pics, CLASSES)
    store.save_labels("a.png", np.ones((8, 8), np.uint8))
    with pytest.raises(InputError, match="not a video's frames"):
        carry_labels(store, "a.png")


# -- training ------------------------------------------------------------------------------
SHAPES = (LabelClass("background", (0, 0, 0)), LabelClass("square", (230, 40, 40)),
          LabelClass("disc", (40, 220, 40)))
LABELLED = 12  # of 16 pictures: the other 4 are not labelled yet


@pytest.fixture(scope="module")
def labelled_store(tmp_path_factory) -> LabelStore:
    """Squares and discs labelled through the store, as the window does; 4 left unlabelled."""
    root = tmp_path_factory.mktemp("shapes")
    (root / "pics").mkdir()
    samples = synthetic_set(16)
    for sample in samples:
        cv2.imwrite(str(root / "pics" / sample.name), sample.image)
    store = LabelStore.create(root / "labels", root / "pics", SHAPES)
    for sample in samples[:LABELLED]:
        store.save_labels(sample.name, sample.labels)
    return store


def truth_pixels() -> list[int]:
    counts = np.zeros(3, np.int64)
    for sample in synthetic_set(16)[:LABELLED]:
        counts += np.bincount(sample.labels.ravel(), minlength=3)
    return counts.tolist()


def test_train_and_eval_read_the_labels_with_names_and_colours(labelled_store, tmp_path,
                                                                capsys):
    folder, out = str(labelled_store.folder), tmp_path / "shapes.pt"
    assert main(["train", folder, "-o", str(out), "--epochs", "1", "--batch", "4", "--size",
                 "64", "--threads", "1", "--seed", "1"]) == 0
    err = capsys.readouterr().err
    assert f"{LABELLED} labelled pictures, 3 classes" in err
    assert "pictures without labels (skipped): 4 (" in err and "problem" not in err
    spec = get_spec(str(out))
    assert spec.categories == ("background", "square", "disc")
    assert spec.palette.tolist() == [[0, 0, 0], [230, 40, 40], [40, 220, 40]]
    assert main(["eval", str(out), folder, "--quiet"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith(f"{out}, size 64, on {LABELLED} pictures")
    assert any(line.startswith("square") for line in table)
    assert any(line.startswith("disc") for line in table)
    scores = api.evaluate(api.load_model(str(out), device="cpu"), folder).scores
    assert scores.classes == spec.categories and scores.pictures == LABELLED
    assert scores.matrix.sum(1).tolist() == truth_pixels()  # exactly the labelled masks


FAST = TrainConfig(size=64, batch=4, epochs=1, seed=1, patience=None, threads=1,
                   augment=AugmentSettings(crop=64))


def test_training_stopped_before_a_validation_writes_no_model(labelled_store, tmp_path):
    out = tmp_path / "m.pt"
    stop = threading.Event()
    stop.set()
    outcome = train_on_labels(labelled_store, out, config=FAST, stop=stop)
    assert outcome.model is None and outcome.result.reason == "stopped"
    assert not out.exists()


def test_cancelled_training_keeps_the_best_model(labelled_store, tmp_path):
    out = tmp_path / "m.pt"
    seen = []

    def cancel_after_the_first_validation(progress):
        seen.append(progress.phase)
        if progress.phase == "train" and "validate" in seen:
            run.cancel()

    config = TrainConfig(**{**FAST.__dict__, "epochs": 50})
    run = start_training(labelled_store, out, config=config,
                         on_progress=cancel_after_the_first_validation)
    outcome = run.result(timeout=300)
    assert outcome.result.reason == "stopped" and outcome.model == out and out.is_file()
    assert outcome.result.steps < 50 * 2 and seen[-1] == "done"
    with pytest.raises(OutputError, match="exists"):
        train_on_labels(labelled_store, out, config=FAST)
    with pytest.raises(OutputError, match="inside the label folder"):
        train_on_labels(labelled_store, labelled_store.folder / "m.pt", config=FAST)


@pytest.mark.parametrize(("base", "want"), [
    ("espnetv2-voc", "espnetv2-voc"),
    ("espnetv2-cityscapes", "espnetv2-cityscapes"),
    ("espnetv2-voc-fused", "espnetv2-voc"),     # the window's default: cannot be fine-tuned
    ("mediapipe-selfie", "espnetv2-voc"),
    ("no-such-model", "espnetv2-voc"),
])
def test_a_label_folder_trains_from_a_base_that_can_learn(base, want):
    from livesegment.pipeline.labelling import for_labels

    config = for_labels(TrainConfig(base=base, size=96))
    assert (config.base, config.size) == (want, 96)


def test_a_label_folder_trains_from_the_usual_base_when_the_model_keeps_its_own(tmp_path):
    from livesegment.pipeline.labelling import for_labels
    from tests.pipeline.test_training_keep import _kept_file

    kept = _kept_file(tmp_path / "kept.pt", ("background", "scratch"), {0: 0, 1: 15})
    assert for_labels(TrainConfig(base=str(kept))).base == "espnetv2-voc"


def test_a_videos_frames_train_at_the_bases_own_size_and_pictures_at_theirs(
        video, labelled_store, tmp_path):
    from livesegment.pipeline.training import Trainer
    from livesegment.pipeline.training.data import open_training_data

    for key in video.keys()[:4]:
        labels = np.zeros((H, W), np.uint8)
        labels[square(video.index(key))] = 1
        video.save_labels(key, labels)
    sizes = [Trainer(open_training_data(store.folder), tmp_path / f"{n}.pt",
                     TrainConfig(epochs=1, threads=1)).size
             for n, store in enumerate((video, labelled_store))]
    assert sizes == [256, 64]  # espnetv2-voc's own; the pictures' median short side (64)
