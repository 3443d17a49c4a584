"""``livesegment train`` and a trained file in the other commands: exit codes, messages, files."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time

import cv2
import pytest
import torch

from livesegment.cli import main
from livesegment.core.models.zoo import get_spec, load_model
from tests.pipeline.synthetic import CLASSES, write_dataset

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
FAST = ["--batch", "4", "--size", "64", "--threads", "1", "--seed", "1"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data") / "shapes", 16)


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "shapes.pt"
    assert main(["train", str(dataset), "-o", str(out), "--epochs", "1", *FAST]) == 0
    return out


def test_train_writes_a_model_file_the_other_commands_take(dataset, trained, tmp_path,
                                                           capsys):
    spec = get_spec(str(trained))
    assert spec.categories == CLASSES and spec.default_size == 64
    picture = dataset / "images" / "pic000.png"
    out = tmp_path / "out.png"
    assert main(["process", str(picture), "-o", str(out), "--model", str(trained),
                 "--quiet"]) == 0
    assert cv2.imread(str(out)).shape == (64, 64, 3)
    assert main(["models", str(trained)]) == 0
    text = capsys.readouterr().out
    assert "fine-tuned from espnetv2-voc" in text and "1 square" in text and "2 disc" in text
    assert "pictures: train 13, val 3" in text


def test_train_prints_the_preflight_report_and_what_it_wrote(dataset, tmp_path, capsys):
    out = tmp_path / "m.pt"
    assert main(["train", str(dataset), "-o", str(out), "--epochs", "1", *FAST]) == 0
    err = capsys.readouterr().err
    assert "16 labelled pictures, 3 classes" in err and "square 11." in err
    assert f"wrote {out}: val mIoU" in err and "run folder" in err
    assert main(["train", str(dataset), "-o", str(out), "--epochs", "1", *FAST]) == 2
    assert "exists; --overwrite replaces it, --resume continues its run" in \
        capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--time", "10x"], "not a duration"),
    (["--val", "1.5"], "--val 1.5 is not a share"),
])
def test_bad_options_exit_2_with_the_reason(dataset, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        main(["train", str(dataset), "-o", str(tmp_path / "m.pt"), *args])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d / "absent", "dataset not found"),
    (lambda d: (d / "empty").mkdir() or d / "empty", "is empty"),
])
def test_a_bad_dataset_gets_one_line(tmp_path, capsys, make, message):
    assert main(["train", str(make(tmp_path)), "-o", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("livesegment: ")
    assert not (tmp_path / "m.pt").exists()


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch /tmp/livesegment-cli-pwned",))


def test_a_malicious_model_file_is_refused_by_every_command(tmp_path, capsys):
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as fh:
        pickle.dump({"livesegment_card": "{}", "x": _RunsCode()}, fh)
    picture = tmp_path / "in.png"
    cv2.imwrite(str(picture), torch.zeros(32, 32, 3, dtype=torch.uint8).numpy())
    for argv in (["models", str(evil)],
                 ["process", str(picture), "-o", str(tmp_path / "o.png"), "--model", str(evil)]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert "refusing to load" in err and "would run code" in err and "\n" not in err
    assert not os.path.exists("/tmp/livesegment-cli-pwned")


def test_ctrl_c_keeps_the_best_model_and_resume_finishes_the_run(dataset, tmp_path):
    out = tmp_path / "m.pt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "livesegment", "train", str(dataset), "-o", str(out),
         "--epochs", "4", *FAST], stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 600
    while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)  # the first validation has written the best model
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 130, err
    assert "--resume" in err
    assert load_model(get_spec(str(out)))  # whole
    assert not [p for p in tmp_path.rglob("*") if "partial" in p.name]
    last = torch.load(out.with_name("m-run") / "last.pt", weights_only=True)
    stopped_at = last["training_state"]["step"]
    assert 3 <= stopped_at < 12
    assert main(["train", str(dataset), "-o", str(out), "--resume", "--quiet"]) == 0
    state = torch.load(out.with_name("m-run") / "last.pt", weights_only=True)
    assert state["training_state"]["step"] == 12  # 4 epochs of 3 steps, as first asked


def test_keep_classes_writes_the_base_classes_then_the_new_ones(dataset, tmp_path, capsys):
    from livesegment.core.models.zoo import VOC_CLASSES

    out = tmp_path / "kept.pt"
    assert main(["train", str(dataset), "-o", str(out), "--epochs", "1", "--keep-classes",
                 "--quiet", *FAST]) == 0
    spec = get_spec(str(out))
    assert spec.categories == VOC_CLASSES + CLASSES[1:] and spec.background == 0
    assert main(["models", str(out)]) == 0
    text = capsys.readouterr().out
    assert "23 classes, fine-tuned from espnetv2-voc, its 21 classes kept" in text
    assert "kept_classes: the 21 of espnetv2-voc, its own network run beside the " \
           "fine-tune" in text
    assert "classes: 23, espnetv2-voc's own (it runs beside the fine-tune, frozen) and " \
           f"{', '.join(CLASSES[1:])} where the fine-tune finds them" in text
    assert "iou: background" in text
