"""The trainer on a tiny synthetic task: it learns, resumes bit-for-bit, and a stop or a full
disk never costs the best model."""

from __future__ import annotations

import errno
import threading

import numpy as np
import pytest
import torch

from livesegment.core.frames import Frame
from livesegment.core.metrics import ScoreAccumulator
from livesegment.core.models.zoo import get_spec, load_model
from livesegment.core.segmenter import Segmenter
from livesegment.errors import InputError, OutputError
from livesegment.pipeline.training import TrainConfig, Trainer, TrainingData
from livesegment.pipeline.training import checkpoints
from livesegment.pipeline.training.transforms import AugmentSettings
from tests.pipeline.synthetic import CLASSES, synthetic_set

SMALL = AugmentSettings(crop=64)


def _config(**changes) -> TrainConfig:
    values = dict(size=64, batch=4, epochs=2, seed=3, patience=None, threads=1, augment=SMALL)
    values.update(changes)
    return TrainConfig(**values)


def _weights(path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if "partial" in p.name)


def test_learns_a_tiny_task_and_the_file_segments_held_back_pictures(tmp_path):
    data = TrainingData.from_samples(synthetic_set(48))
    out = tmp_path / "shapes.pt"
    progress = []
    result = Trainer(data, out, _config(batch=8, epochs=14, seed=0),
                     on_progress=progress.append).run()
    assert result.reason == "done" and result.steps == 14 * (len(data.samples) * 4 // 5 // 8)
    assert progress[-1].phase == "done" and progress[-1].best_miou == result.validation["miou"]
    seg = Segmenter.create(str(out), device="cpu")  # the file, through get_spec
    assert seg.spec.categories == CLASSES and seg.size == 64
    scores = ScoreAccumulator(CLASSES)
    for sample in synthetic_set(20, seed=99):  # pictures it never saw
        labels = seg.process(Frame(0, 0.0, sample.image), seg.default_style()).labels
        scores.add(sample.labels, labels)
    iou = scores.scores().iou
    assert iou[1] > 0.9 and iou[2] > 0.9, iou
    run = result.run_dir
    assert {"results.csv", "curves.png", "confusion.png", "best.pt", "last.pt"} <= {
        p.name for p in run.iterdir()}
    lines = (run / "results.csv").read_text().splitlines()
    assert lines[0].startswith("step,epoch,seconds,lr,train_loss,miou") and len(lines) == 15
    card = seg.spec
    assert "fine-tuned from espnetv2-voc" in card.title


def test_resume_continues_bit_for_bit(tmp_path):
    data = TrainingData.from_samples(synthetic_set(16))
    whole = Trainer(data, tmp_path / "a.pt", _config()).run()
    assert whole.steps == 6

    stop = threading.Event()

    def stop_at_four(p):
        if p.step == 4:
            stop.set()

    part = Trainer(data, tmp_path / "b.pt", _config(), on_progress=stop_at_four,
                   stop=stop).run()
    assert part.reason == "stopped" and part.steps == 4
    resumed = Trainer(data, tmp_path / "b.pt", resume=True).run()
    assert resumed.steps == 6 and resumed.reason == "done"
    a, b = _weights(whole.run_dir / "last.pt"), _weights(resumed.run_dir / "last.pt")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
    assert all(torch.equal(v, _weights(tmp_path / "b.pt")[k])
               for k, v in _weights(tmp_path / "a.pt").items())


def test_same_seed_same_model_other_seed_another(tmp_path):
    data = TrainingData.from_samples(synthetic_set(12))
    runs = [Trainer(data, tmp_path / f"{name}.pt", _config(epochs=1, seed=seed)).run()
            for name, seed in (("a", 5), ("b", 5), ("c", 6))]
    a, b, c = (_weights(r.run_dir / "last.pt") for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_a_frozen_stem_keeps_the_base_weights_of_the_first_two_levels(tmp_path):
    data = TrainingData.from_samples(synthetic_set(12))
    base = load_model(get_spec("espnetv2-voc")).state_dict()
    for frozen in (True, False):
        run = Trainer(data, tmp_path / f"{frozen}.pt", _config(epochs=1, frozen_stem=frozen,
                                                               balance=0.5)).run()
        trained = _weights(run.run_dir / "last.pt")
        stem = [k for k in trained if k.startswith(("base_net.level1.", "base_net.level2_0."))
                and "running" not in k and "num_batches" not in k]
        assert stem and all(torch.equal(trained[k], base[k]) for k in stem) == frozen
        assert not torch.equal(trained["base_net.level3_0.act.weight"],
                               base["base_net.level3_0.act.weight"])


def test_stop_leaves_the_best_model_whole_and_no_partial_file(tmp_path):
    data = TrainingData.from_samples(synthetic_set(16))
    stop = threading.Event()
    out = tmp_path / "m.pt"

    def stop_after_first_validation(p):
        if p.step == 4:
            stop.set()

    result = Trainer(data, out, _config(epochs=3), on_progress=stop_after_first_validation,
                     stop=stop).run()
    assert result.reason == "stopped" and result.best_step == 3
    best = _weights(result.run_dir / "best.pt")
    assert all(torch.equal(v, best[k]) for k, v in _weights(out).items())
    assert load_model(get_spec(str(out)))  # whole and usable
    assert _leftovers(tmp_path) == []


def test_full_disk_keeps_the_previous_best_and_leaves_no_partial_file(tmp_path, monkeypatch):
    data = TrainingData.from_samples(synthetic_set(16))
    out = tmp_path / "m.pt"
    real_save, writes = torch.save, []

    def save_until_full(obj, fh, *args, **kwargs):
        writes.append(getattr(fh, "name", fh))
        if len(writes) > 3:  # best.pt, m.pt and last.pt of the first validation fit
            fh.write(b"half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, fh, *args, **kwargs)

    monkeypatch.setattr(checkpoints.torch, "save", save_until_full)
    with pytest.raises(OutputError, match=r"cannot write .*No space left on device.*kept"):
        Trainer(data, out, _config(epochs=3)).run()
    monkeypatch.undo()
    assert _leftovers(tmp_path) == []
    card = get_spec(str(out))
    assert card.categories == CLASSES
    model = load_model(card)
    assert model(torch.zeros(1, 3, 64, 64)).shape[1] == 3


def test_resume_refuses_another_dataset_and_a_missing_checkpoint(tmp_path):
    data = TrainingData.from_samples(synthetic_set(12))
    Trainer(data, tmp_path / "m.pt", _config(epochs=1)).run()
    other = TrainingData.from_samples(synthetic_set(12, seed=1)[:10])
    with pytest.raises(InputError, match="not the one this run started with"):
        Trainer(other, tmp_path / "m.pt", resume=True)
    with pytest.raises(InputError, match="nothing to resume: .*never-run.last.pt does not exist"):
        Trainer(data, tmp_path / "never.pt", resume=True)


class FakeClock:
    """Time that passes by a fixed amount per reading: the run's planning, not this
    machine's speed, decides what happens."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def test_time_budget_plans_a_run_that_ends_in_time(tmp_path):
    data = TrainingData.from_samples(synthetic_set(16))
    clock = FakeClock(0.05)  # a step reads the clock 5 times: 0.25 s a step
    result = Trainer(data, tmp_path / "m.pt", _config(epochs=None, time_s=10.0),
                     clock=clock).run()
    state = torch.load(result.run_dir / "last.pt", weights_only=True)["training_state"]
    assert result.reason == "done" and 8.0 <= result.seconds <= 10.0  # used, not overrun
    assert result.steps == state["plan"]["total_steps"] >= 10
    validations = [r["step"] for r in state["history"]]
    assert len(validations) >= 3 and validations[-1] == result.steps
    assert result.validation["miou"] is not None


def test_a_budget_too_short_for_the_plan_stops_on_time_with_a_validated_model(tmp_path):
    data = TrainingData.from_samples(synthetic_set(16))
    clock = FakeClock(0.05)
    result = Trainer(data, tmp_path / "m.pt", _config(epochs=None, time_s=0.6),
                     clock=clock).run()
    assert result.reason == "time" and result.steps >= 1
    assert result.best_step == result.steps and load_model(get_spec(str(tmp_path / "m.pt")))
