"""The validator: a stand-in model (red = person) over a crafted dataset, figures by hand."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from livesegment.core.models.zoo import get_spec
from livesegment.errors import InputError
from livesegment.io.datasets import open_dataset
from livesegment.pipeline.validate import Validator, map_classes, parse_map
from tests.conftest import PERSON, fake_segmenter
from tests.io.labelled import write_mask, write_picture

SIDE = 64


def red_square() -> np.ndarray:
    bgr = np.full((SIDE, SIDE, 3), 90, np.uint8)
    bgr[16:48, 16:48] = (0, 0, 255)
    return bgr


def person_dataset(root, names=("background", "person")):
    truth_a = np.zeros((SIDE, SIDE), np.uint8)
    truth_a[16:48, 16:48] = 1  # exactly the red square: the model gets it all
    truth_b = truth_a.copy()
    truth_b[0:8, :] = 1  # a person strip the model cannot see (not red): 512 pixels missed
    for name, truth in (("a", truth_a), ("b", truth_b)):
        write_picture(root / "images" / f"{name}.png", red_square())
        write_mask(root / "masks" / f"{name}.png", truth)
    (root / "classes.txt").write_text("\n".join(names) + "\n")
    return open_dataset(root)


def test_figures_of_a_run_by_hand(tmp_path):
    dataset = person_dataset(tmp_path)
    seen = []
    result = Validator(fake_segmenter(SIDE), dataset).run(
        progress=lambda done, total, _s: seen.append((done, total)))
    # a: 3072 background + 1024 person, all right. b: 2560 background right, 1024 person
    # right, 512 person called background.
    np.testing.assert_array_equal(result.scores.matrix, [[5632, 0], [512, 2048]])
    assert result.scores.iou == pytest.approx((5632 / 6144, 2048 / 2560))
    assert result.scores.recall[1] == pytest.approx(0.8)
    assert result.scores.precision[1] == pytest.approx(1.0)
    assert result.scores.image_recall[1] == pytest.approx(1.0)
    assert seen == [(1, 2), (2, 2)]
    assert [w.name for w in result.worst] == ["images/b.png", "images/a.png"]
    # b's own mIoU: background 2560 / 3072, person 1024 / 1536
    assert result.worst[0].score == pytest.approx((2560 / 3072 + 1024 / 1536) / 2)
    assert result.worst[1].score == pytest.approx(1.0)
    assert result.worst[0].prediction[0, 0] == 0 and result.worst[0].truth[0, 0] == 1
    assert result.mapping.pairs == (("person", ("person",)),)
    assert result.model == "espnetv2-voc" and not result.interrupted
    assert result.fps is not None and result.fps > 0


def test_keep_worst_limits_the_pictures_kept(tmp_path):
    result = Validator(fake_segmenter(SIDE), person_dataset(tmp_path), keep_worst=1).run()
    assert [w.name for w in result.worst] == ["images/b.png"]


def test_a_stop_request_ends_the_run_with_what_was_done(tmp_path):
    stop = threading.Event()
    validator = Validator(fake_segmenter(SIDE), person_dataset(tmp_path))
    result = validator.run(progress=lambda *_: stop.set(), stop=stop)
    assert result.interrupted and result.scores.pictures == 1


def test_explicit_map_for_other_names(tmp_path):
    dataset = person_dataset(tmp_path, ("background", "human"))
    with pytest.raises(InputError, match="none of the dataset's classes"):
        Validator(fake_segmenter(SIDE), dataset)
    result = Validator(fake_segmenter(SIDE), dataset, parse_map("human=person")).run()
    assert result.scores.iou[1] == pytest.approx(0.8)


def test_map_classes_table():
    spec = get_spec("espnetv2-voc")
    mapping = map_classes(("background", "vehicle", "person", "tree"), 0, spec,
                          parse_map("vehicle=car+bus"))
    expected = np.zeros(21, np.uint8)
    expected[[7, 6]] = 1  # car, bus
    expected[PERSON] = 2
    np.testing.assert_array_equal(mapping.table, expected)
    assert mapping.pairs == (("vehicle", ("car", "bus")), ("person", ("person",)))
    assert mapping.unpredicted == ("tree",)
    # a model class goes to one dataset class: mapping person onto vehicle takes it from person
    moved = map_classes(("background", "vehicle", "person"), 0, spec, parse_map("vehicle=person"))
    assert moved.table[PERSON] == 1 and moved.unpredicted == ("person",)


@pytest.mark.parametrize("text, message", [
    ("person", "is not DATASET_CLASS=MODEL_CLASS"),
    ("person=", "is not DATASET_CLASS=MODEL_CLASS"),
])
def test_parse_map_errors(text, message):
    with pytest.raises(InputError, match=message):
        parse_map(text)


def test_map_names_unknown_classes():
    spec = get_spec("espnetv2-voc")
    with pytest.raises(InputError, match="the dataset has no class 'cat'"):
        map_classes(("background", "person"), 0, spec, parse_map("cat=cat"))
    with pytest.raises(InputError, match="unknown class 'persn'.*did you mean 'person'"):
        map_classes(("background", "human"), 0, spec, parse_map("human=persn"))
