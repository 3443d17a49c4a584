"""``livesegment eval``: figures, files, exit codes and one-line errors."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest

from livesegment.cli import main
from livesegment.core.segmenter import Segmenter
from tests.conftest import fake_segmenter
from tests.io.labelled import write_mask
from tests.pipeline.test_validate import SIDE, person_dataset


@pytest.fixture
def red_is_person(monkeypatch):
    """Every model is the stand-in (red = person), so the figures are known exactly."""
    monkeypatch.setattr(Segmenter, "create", classmethod(lambda cls, *a, **k: fake_segmenter(SIDE)))


@pytest.fixture
def data(tmp_path):
    person_dataset(tmp_path / "data")
    return tmp_path / "data"


def test_eval_prints_the_table_and_writes_every_file(red_is_person, data, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    code = main(["eval", "espnetv2-voc", str(data), "--quiet", "--json", str(out / "e.json"),
                 "--csv", str(out / "e.csv"), "--confusion", str(out / "c.png"),
                 "--worst", str(out / "w.png")])
    assert code == 0
    captured = capsys.readouterr()
    table = captured.out.splitlines()
    assert table[0].startswith("espnetv2-voc, size 64, on 2 pictures:")
    person = next(line for line in table if line.startswith("person")).split()
    # the crafted case: person IoU 2048 / 2560, precision 1, recall 0.8 (tests/pipeline)
    assert person[1:5] == ["0.8000", f"{2 * 2048 / (2 * 2048 + 512):.4f}", "1.0000", "0.8000"]
    assert "classes: person=person; every other model class is background" in captured.out
    assert "dataset " in captured.err and "2 labelled pictures" in captured.err
    doc = json.loads((out / "e.json").read_text())
    assert doc["confusion"]["pixels"] == [[5632, 0], [512, 2048]]
    rows = list(csv.reader((out / "e.csv").open()))
    assert rows[2][0] == "person" and float(rows[2][1]) == pytest.approx(0.8)
    assert cv2.imread(str(out / "c.png")) is not None
    assert cv2.imread(str(out / "w.png")).shape[1] == 4 * 320
    for name in ("e.json", "e.csv", "c.png", "w.png"):
        assert f"wrote {out / name}" in captured.err


def test_eval_of_one_split(red_is_person, tmp_path, capsys):
    root = tmp_path / "data"
    person_dataset(root)
    for folder in ("images", "masks"):
        (root / folder / "val").mkdir()
        (root / folder / "a.png").rename(root / folder / "val" / "a.png")
    assert main(["eval", "m", str(root), "--quiet", "--split", "val"]) == 0
    out = capsys.readouterr().out
    person = next(line for line in out.splitlines() if line.startswith("person")).split()
    assert "on 1 pictures" in out and person[1] == "1.0000"  # a, the picture it gets right


@pytest.mark.parametrize("extra, message", [
    (["--map", "person"], "--map entry 'person' is not DATASET_CLASS=MODEL_CLASS"),
    (["--map", "cat=person"], "--map: the dataset has no class 'cat'"),
    (["--json", "e.txt"], "--json e.txt: give a .json file"),
    (["--worst", "w.gif"], "--worst w.gif: give a .png or .jpg"),
    (["--json", "DATA/e.json"], "is inside the dataset"),
    (["--csv", "x.csv", "--confusion", "x.csv"], "give a .png"),
    (["--confusion", "x.png", "--worst", "x.png"], "--confusion and --worst are the same file"),
    (["--split", "test"], "has no split 'test'"),
])
def test_bad_options_are_one_line_with_exit_2(red_is_person, data, tmp_path, monkeypatch,
                                              capsys, extra, message):
    monkeypatch.chdir(tmp_path)
    extra = [e.replace("DATA", str(data)) for e in extra]
    assert main(["eval", "m", str(data), "--quiet", *extra]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("livesegment: ") and message in err[-1]
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob("*.json"))


def test_a_broken_mask_is_named_before_any_model_loads(data, monkeypatch, capsys):
    def no_model(*_a, **_k):
        raise AssertionError("the model was loaded for a broken dataset")

    monkeypatch.setattr(Segmenter, "create", classmethod(no_model))
    bad = np.zeros((SIDE, SIDE), np.uint8)
    bad[0, 0] = 9
    write_mask(data / "masks" / "b.png", bad)
    assert main(["eval", "espnetv2-voc", str(data), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == f"livesegment: {data / 'masks' / 'b.png'}: values 9 name no class"
    assert "Traceback" not in err


def test_a_model_without_the_dataset_classes_says_to_map(tmp_path, capsys):
    person_dataset(tmp_path, ("background", "scratch"))
    assert main(["eval", "mediapipe-selfie", str(tmp_path), "--quiet"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "livesegment: model mediapipe-selfie has none of the dataset's classes (background, "
        "scratch); give --map DATASET_CLASS=MODEL_CLASS")


def test_missing_dataset(tmp_path, capsys):
    assert main(["eval", "espnetv2-voc", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.strip() == f"livesegment: dataset not found: {tmp_path / 'nope'}"


def test_a_real_bundled_model_runs_end_to_end(tmp_path, capsys):
    person_dataset(tmp_path)
    assert main(["eval", "mediapipe-selfie", str(tmp_path), "--quiet", "--json",
                 str(tmp_path.parent / "real.json")]) == 0
    doc = json.loads((tmp_path.parent / "real.json").read_text())
    assert doc["model"] == "mediapipe-selfie" and doc["pictures"] == 2
    assert doc["map"] == {"person": ["person"]}
    # every figure present and within its range (the model's quality is BENCHMARKS' business)
    for row in doc["classes"]:
        assert all(v is None or 0.0 <= v <= 1.0 for k, v in row.items()
                   if k not in ("name", "true_pixels"))
    assert sum(map(sum, doc["confusion"]["pixels"])) == 2 * SIDE * SIDE
