"""evaluate_clicks on a crafted folder: the NoC the protocol must give, worked out by hand."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import livesegment


class SquareStamper:
    """A predictable engine: an 11x11 square around every include click."""

    def set_image(self, bgr):
        self.shape = bgr.shape[:2]

    def predict(self, clicks, box=None, previous=None):
        out = np.zeros(self.shape, bool)
        for c in clicks:
            if c.include:
                out[int(c.y) - 5:int(c.y) + 6, int(c.x) - 5:int(c.x) + 6] = True
        return out


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two 64x64 pictures: an 11x11 square object (rows and columns 20..30), and an 11x22
    one (rows 20..30, columns 10..31) with GrabCut's 128 band beside it."""
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    square, wide = np.zeros((64, 64), np.uint8), np.zeros((64, 64), np.uint8)
    square[20:31, 20:31] = 255
    wide[20:31, 10:32] = 255
    wide[20:31, 32:36] = 128
    for name, labels in (("a", square), ("b", wide)):
        cv2.imwrite(str(tmp_path / "images" / f"{name}.png"), np.dstack([labels] * 3))
        cv2.imwrite(str(tmp_path / "masks" / f"{name}.png"), labels)
    return tmp_path


def test_the_click_protocol_gives_the_noc_worked_out_by_hand(folder):
    scores = livesegment.evaluate_clicks(SquareStamper(), folder, ignore=[128])
    # a: the first click lands on (25, 25), the square is exact: IoU 1 after 1 click.
    # b: the deepest points (6 px in) run along row 25 from x=15 to 26; the first in reading
    # order, (15, 25), stamps columns 10..20: IoU 121/242; the miss left, columns 21..31,
    # gets the next click at (26, 25): exact, IoU 1 after 2 clicks. The band is never clicked.
    assert [t.ious for t in scores.traces] == [(1.0,), (0.5, 1.0)]
    assert scores.noc(0.85) == scores.noc(0.90) == 1.5
    assert scores.failures(0.90) == 0
    assert len(scores.seconds) == 3


def test_the_limit_and_a_threshold_never_reached(folder):
    scores = livesegment.evaluate_clicks(SquareStamper(), folder, ignore=[128], limit=1,
                                         thresholds=(0.5,), max_clicks=3)
    assert [t.ious for t in scores.traces] == [(1.0,)]
    assert scores.noc(0.5) == 1


def test_without_a_model_the_only_alternative_is_the_answer(folder):
    selector = livesegment.Selector(None)
    selector.set_image(cv2.imread(str(folder / "images" / "a.png")))
    (only,) = selector.alternatives([(25, 25, True)])
    assert np.array_equal(only, selector.predict([(25, 25, True)]))


@pytest.mark.parametrize("kwargs, named", [
    ({"max_clicks": 0}, "max_clicks"), ({"thresholds": (0.0,)}, "thresholds"),
    ({"thresholds": ()}, "thresholds"),
])
def test_bad_protocol_arguments(folder, kwargs, named):
    with pytest.raises(ValueError, match=named):
        livesegment.evaluate_clicks(SquareStamper(), folder, **kwargs)


def test_the_selector_reaches_the_squares_within_a_few_clicks(folder):
    scores = livesegment.evaluate_clicks(livesegment.Selector(None), folder, ignore=[128])
    assert scores.noc(0.90) <= 2


def test_a_click_on_a_person_selects_the_person():
    """The class cue on real footage: one click in the middle of the person the model sees
    in the sample clip selects that person, not only the colour under the click."""
    from livesegment.core.select import iou, next_click

    model = livesegment.load_model("espnetv2-voc", device="cpu")
    frames = livesegment.read_frames(livesegment.sample_clip())
    frame = next(f for i, f in enumerate(frames) if i == 100)
    frames.close()
    person = livesegment.segment(model, frame) == model.spec.class_id("person")
    count, parts, stats, _ = cv2.connectedComponentsWithStats(person.view(np.uint8), 8)
    largest = parts == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    everywhere = np.ones(person.shape, bool)
    click = next_click(np.zeros(person.shape, bool), largest, everywhere)
    selector = livesegment.Selector(model)
    selector.set_image(frame)
    got = selector.predict([(click.x, click.y, True)])
    assert iou(got, largest, everywhere) >= 0.8
    first, *others = selector.alternatives([(click.x, click.y, True)])
    assert np.array_equal(first, got)
    # the model's own person region (refined labels: the same person as segment()'s, edges
    # refined alike), offered whole
    assert len(others) == 1 and iou(others[0], largest, everywhere) >= 0.95
