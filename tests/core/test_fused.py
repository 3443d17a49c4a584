"""The fused person (core/models/fused.py): maths on crafted probabilities, and the default
model runs both networks on a close-up and ESPNetv2 alone on a wide scene."""

from __future__ import annotations

import av
import numpy as np
import pytest
import torch

from livesegment.core.frames import Frame
from livesegment.core.models import fused
from livesegment.core.models.catalog import DEFAULT_MODEL
from livesegment.core.models.fused import FusedPerson, fuse_person, scene_weight
from tests.conftest import FOOTAGE, PERSON, SHARED

GIF = SHARED / "media" / "head-pose-face-detection-female-and-male.gif"


@pytest.mark.parametrize(("rows", "expected"), [
    (0, 0.0),
    (12, 0.0),                                       # 12 % of the frame: where it starts
    (14, fused.SELFIE_WEIGHT / 2),                   # half way to 16 %
    (16, fused.SELFIE_WEIGHT),
    (90, fused.SELFIE_WEIGHT),
])
def test_the_selfie_models_say_grows_with_the_largest_persons_size(rows, expected):
    person = torch.zeros(1, 100, 100)
    person[0, :rows] = 0.9  # one person covering ``rows`` % of the frame
    assert scene_weight(person) == pytest.approx(expected)


def test_many_small_people_are_a_wide_scene_however_much_they_cover():
    """A crowd: 25 people of 3 % each cover 75 % of the frame, the largest only 3 %."""
    person = torch.zeros(1, 100, 100)
    for k in range(25):
        y, x = divmod(k, 5)
        person[0, y * 20:y * 20 + 17, x * 20:x * 20 + 17] = 0.9
    assert scene_weight(person) == 0.0


def _probs(person: float, others: tuple[float, ...] = (0.5, 0.5)) -> torch.Tensor:
    """1x3x1x1: class 0 and 2 share what class 1 (the person here) leaves."""
    rest = 1.0 - person
    return torch.tensor([others[0] * rest, person, others[1] * rest]).view(1, 3, 1, 1)


@pytest.mark.parametrize(("own", "selfie", "weight", "expected"), [
    (0.7, 0.2, 0.0, 0.7),          # no say: ESPNetv2's answer
    # ESPNetv2 unsure (0.05 x 0.2), selfie sure (1.03 x 0.8): (0.005 + 0.8158) / 0.834
    (0.5, 0.99, 0.8, 0.9841),
    # the other way round: (0.99 x 0.206 + 0.5 x 0.04) / 0.246
    (0.99, 0.5, 0.8, 0.9103),
    (0.9, 0.1, 0.5, 0.5),          # equally sure, equal say: they cancel
])
def test_person_probability_is_a_confidence_weighted_mix(own, selfie, weight, expected):
    out = fuse_person(_probs(own, (0.25, 0.75)), torch.tensor([[[selfie]]]), 1, weight).exp()
    assert float(out[0, 1]) == pytest.approx(expected, abs=1e-3)
    assert float(out.sum()) == pytest.approx(1.0, abs=1e-5)
    # the other classes keep their ratio (0.25 : 0.75) in what is left
    assert float(out[0, 2] / out[0, 0]) == pytest.approx(3.0, rel=1e-4)


def _calls(net: FusedPerson) -> list[int]:
    calls: list[int] = []
    net.person.register_forward_hook(lambda *_: calls.append(1))
    return calls


def _first_frames(path, count: int) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for _, f in zip(range(count), c.decode(video=0))]


@pytest.mark.skipif(not GIF.is_file() or not FOOTAGE.is_file(),
                    reason="../shared/media not present")
def test_the_default_model_fuses_people_on_a_close_up_and_not_on_a_wide_scene(tmp_path):
    from livesegment.core.segmenter import Segmenter
    from livesegment.pipeline.job import process_file
    from livesegment.core.masks.smoothing import MaskOptions
    import cv2

    seg = Segmenter.create(DEFAULT_MODEL, "cpu")
    assert isinstance(seg.model, FusedPerson)
    calls = _calls(seg.model)
    close_up = tmp_path / "call.png"
    cv2.imwrite(str(close_up), _first_frames(GIF, 1)[0])
    process_file(close_up, tmp_path / "out.png", seg, seg.default_style(),
                 masks=tmp_path / "masks", mask_options=MaskOptions())
    assert len(calls) == 1  # the selfie network ran on the video-call picture
    mask = cv2.imread(str(tmp_path / "masks" / "000000.png"), cv2.IMREAD_UNCHANGED)
    assert 0.1 < (mask == PERSON).mean() < 0.6
    for bgr in _first_frames(FOOTAGE, 2):
        labels = seg.process(Frame(0, 0.0, bgr), seg.default_style()).labels
        assert (labels == PERSON).mean() > 0.01  # people found, by ESPNetv2 alone
    assert len(calls) == 1  # small people in a wide scene: the selfie network never ran


@pytest.mark.skipif(not GIF.is_file(), reason="../shared/media not present")
def test_process_without_options_fuses_the_person_class(tmp_path, monkeypatch):
    """``livesegment process call.png -o out.png``: the default model mixes in the selfie
    network's person on a video-call picture."""
    import cv2

    from livesegment.cli import main

    mixed = []

    def counted(*args, **kwargs):
        mixed.append(1)
        return fuse_person(*args, **kwargs)

    monkeypatch.setattr(fused, "fuse_person", counted)
    picture = tmp_path / "call.png"
    cv2.imwrite(str(picture), _first_frames(GIF, 1)[0])
    assert main(["process", str(picture), "-o", str(tmp_path / "out.png")]) == 0
    assert mixed == [1]
