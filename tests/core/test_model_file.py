"""A trained model is one file of data: its card and weights load through get_spec, safely."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from livesegment.core.models.espnetv2 import ESPNetv2, classifier
from livesegment.core.models.model_file import (
    CARD_KEY, ModelCard, card_from_json, describe_card, pack, read_model_file,
)
from livesegment.core.models.zoo import get_spec, load_model
from livesegment.core.segmenter import Segmenter
from livesegment.errors import InputError, WeightsError

CLASSES = ("background", "scratch", "dent")


def _card(**changes) -> ModelCard:
    values = dict(title="parts (3 classes)", architecture="espnetv2", decoder_projection=10,
                  base="espnetv2-voc", classes=CLASSES,
                  colours=((0, 0, 0), (255, 0, 0), (0, 0, 255)), background=0,
                  mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), size=96, size_multiple=32,
                  licence="weights derived from ESPNetv2 (MIT)",
                  training={"steps": 12}, validation={"miou": 0.5})
    values.update(changes)
    return ModelCard(**values)


def _model_file(path: Path, card: ModelCard | None = None) -> tuple[Path, dict]:
    card = card or _card()
    torch.manual_seed(0)
    state = card.build().state_dict()
    torch.save(pack(card, state), path)
    return path, state


def test_model_file_loads_through_get_spec_with_its_card(tmp_path, monkeypatch):
    path, state = _model_file(tmp_path / "parts.pt")
    monkeypatch.chdir(tmp_path)
    spec = get_spec("parts.pt")  # relative, as typed on a command line
    assert spec.name == str(path.resolve())
    assert get_spec(spec.name) is spec  # the name travels (Ray workers, the window's list)
    assert spec.categories == CLASSES and spec.num_classes == 3 and spec.background == 0
    assert spec.palette.tolist() == [[0, 0, 0], [255, 0, 0], [0, 0, 255]]
    assert spec.mean == (0.5, 0.5, 0.5) and spec.default_size == 96
    assert spec.weights.status() == "file" and spec.default_classes == ("scratch", "dent")
    model = load_model(spec)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    # the decoder keeps the base's width (10 for VOC's 21 classes), not the 3-class default 1
    assert classifier(model).in_channels == 10 and classifier(model).out_channels == 3


def test_a_trained_file_segments_a_picture_via_segmenter(tmp_path):
    path, _ = _model_file(tmp_path / "parts.pt")
    seg = Segmenter.create(str(path), device="cpu")
    bgr = np.random.default_rng(0).integers(0, 255, (70, 90, 3), dtype=np.uint8)
    from livesegment.core.frames import Frame

    composed = seg.process(Frame(0, 0.0, bgr), seg.default_style())
    assert composed.labels.shape == (70, 90) and composed.labels.max() < 3


def test_a_changed_file_is_read_again(tmp_path):
    path, _ = _model_file(tmp_path / "m.pt")
    assert get_spec(str(path)).categories == CLASSES
    _model_file(path, _card(classes=("bg", "fg"), colours=((0, 0, 0), (9, 9, 9))))
    assert get_spec(str(path)).categories == ("bg", "fg")


class _RunsCode:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/livesegment-model-pwned",))


def test_a_model_file_with_pickled_code_is_refused_in_one_line(tmp_path):
    marker = Path("/tmp/livesegment-model-pwned")
    marker.unlink(missing_ok=True)
    evil = tmp_path / "evil.pt"
    torch.save({CARD_KEY: _card().to_json(), "state_dict": {}, "x": _RunsCode()}, evil)
    with pytest.raises(WeightsError) as err:
        get_spec(str(evil))
    message = str(err.value)
    assert "refusing to load" in message and "would run code" in message
    assert "\n" not in message and str(evil) in message
    bare = tmp_path / "bare.pt"
    with open(bare, "wb") as fh:
        pickle.dump({"x": _RunsCode()}, fh)
    with pytest.raises(WeightsError, match="would run code"):
        get_spec(str(bare))
    assert not marker.exists()


def _card_text(**changes) -> str:
    data = json.loads(_card().to_json())
    data.update(changes)
    return json.dumps(data)


@pytest.mark.parametrize(("payload", "message"), [
    (lambda: ESPNetv2(3).state_dict(), "not a livesegment model file .*--weights"),
    (lambda: {CARD_KEY: "{not json", "state_dict": {}}, "model card is not valid JSON"),
    (lambda: {CARD_KEY: _card_text(format="other"), "state_dict": {}},
     "not a livesegment-model card"),
    (lambda: {CARD_KEY: _card_text(version=99), "state_dict": {}}, "version 99 is newer"),
    (lambda: {CARD_KEY: _card_text(architecture="os.system"), "state_dict": {}},
     "architecture 'os.system' is not one of espnetv2"),
    (lambda: {CARD_KEY: _card_text(colours=[[0, 0, 0]]), "state_dict": {}},
     "3 classes with 1 colours"),
    (lambda: {CARD_KEY: json.dumps({"format": "livesegment-model", "version": 1}),
              "state_dict": {}}, "model card has no title, architecture, .*, licence$"),
    (lambda: {CARD_KEY: _card().to_json()}, "holds a model card but no weights"),
])
def test_damaged_model_files_are_refused_with_the_reason(tmp_path, payload, message):
    path = tmp_path / "bad.pt"
    torch.save(payload(), path)
    with pytest.raises(WeightsError, match=message) as err:
        get_spec(str(path))
    assert "\n" not in str(err.value)


def test_weights_that_do_not_fit_the_card_are_refused(tmp_path):
    path = tmp_path / "mixed.pt"
    torch.save(pack(_card(), ESPNetv2(21).state_dict()), path)
    spec = get_spec(str(path))
    with pytest.raises(WeightsError, match="does not fit model .*wrong shape"):
        load_model(spec)


@pytest.mark.parametrize(("name", "message"), [
    ("runs/absent.pt", "model file not found: runs/absent.pt"),
    ("espnetv2-vco", "did you mean 'espnetv2-voc'.*or a model file"),
])
def test_missing_files_and_unknown_names_say_which(name, message):
    with pytest.raises(InputError, match=message):
        get_spec(name)


def test_card_round_trips_and_describes_itself(tmp_path):
    card = _card()
    assert card_from_json(card.to_json(), tmp_path) == card
    path, _ = _model_file(tmp_path / "m.pt", card)
    read, content = read_model_file(path)
    assert read == card and set(content) == {CARD_KEY, "state_dict"}
    text = "\n".join(describe_card(card, path))
    assert "parts (3 classes)" in text and "espnetv2-voc" in text and "miou: 0.5" in text


def test_a_ray_worker_builds_the_file_s_model_from_its_name_anywhere(tmp_path, monkeypatch):
    """Workers get the spec's name (process --ray): it is the file's absolute path."""
    from livesegment.pipeline.jobs import JobSettings

    (tmp_path / "run").mkdir()
    _model_file(tmp_path / "run" / "parts.pt")
    monkeypatch.chdir(tmp_path / "run")
    name = get_spec("parts.pt").name
    monkeypatch.chdir(tmp_path)  # a worker's own working folder
    segmenter, style = JobSettings(model=name, device="cpu").build()
    assert segmenter.spec.categories == CLASSES and style.palette.tolist()[1] == [255, 0, 0]
