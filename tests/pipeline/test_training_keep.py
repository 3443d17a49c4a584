"""Keeping the base model's classes (``keep_classes``): the class table, the targets, the
first step, and a run that resumes."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from livesegment.core.models.espnetv2 import classifier
from livesegment.core.models.zoo import VOC_CLASSES, get_spec, load_model
from livesegment.errors import InputError
from livesegment.io.datasets.records import IGNORE
from livesegment.pipeline.training import TrainConfig, Trainer, TrainingData
from livesegment.pipeline.training.keep import (
    BaseTeacher, hold_norm_statistics, merge_classes, slow_kept_rows, start_below_background,
)
from livesegment.pipeline.training.losses import dice_loss
from livesegment.pipeline.training.network import finetune_network
from livesegment.pipeline.training.transforms import AugmentSettings
from tests.pipeline.synthetic import synthetic_set

VOC = get_spec("espnetv2-voc")
PERSON = VOC_CLASSES.index("person")


def _table(classes, colours=None, background=0, base=VOC):
    colours = colours or [(0, 0, 0)] + [(10 * i, 200, 30) for i in range(1, len(classes))]
    return merge_classes(base, classes, colours, background)


@pytest.mark.parametrize(("classes", "background", "want", "lookup", "labelled"), [
    # new classes follow the base's 21; the user's background is the base's
    (("background", "scratch", "dent"), 0, VOC_CLASSES + ("scratch", "dent"),
     {0: 0, 1: 21, 2: 22}, {21, 22}),
    # a class named like one of the base's is that class (case and spaces aside)
    (("bg", "scratch", "Person "), 0, VOC_CLASSES + ("scratch",), {0: 0, 1: 21, 2: PERSON},
     {21, PERSON}),
    # the user's background need not be id 0
    (("scratch", "nothing"), 1, VOC_CLASSES + ("scratch",), {0: 21, 1: 0}, {21}),
])
def test_the_result_has_the_base_classes_then_the_new_ones(classes, background, want, lookup,
                                                           labelled):
    table = _table(classes, background=background)
    assert table.classes == want and table.background == 0 and table.kept == 21
    assert {u: int(table.lookup[u]) for u in lookup} == lookup
    assert table.lookup[IGNORE] == IGNORE
    assert table.new_ids == tuple(range(21, len(want)))
    assert table.rows() == {i: i for i in range(21)} | dict.fromkeys(table.new_ids, 0)
    assert set(range(len(want))) - set(table.base_only) == labelled


def test_a_new_class_never_shares_a_colour_with_a_base_class():
    voc_colours = [tuple(int(v) for v in c) for c in VOC.palette]
    table = _table(("background", "scratch", "dent"), [(0, 0, 0), voc_colours[15], (1, 2, 3)])
    assert table.colours[:21] == tuple(voc_colours)
    assert table.colours[21] not in voc_colours and table.colours[22] == (1, 2, 3)


def test_a_base_with_its_background_last_keeps_it_there():
    city = get_spec("espnetv2-cityscapes")
    table = _table(("background", "scratch"), base=city)
    assert table.background == 19 and table.lookup[0] == 19 and table.classes[20] == "scratch"


def test_targets_take_the_users_classes_and_the_base_where_the_mask_says_background():
    table = _table(("background", "scratch", "person"))
    user = np.array([[0, 1, 2], [IGNORE, 0, 1]], np.uint8)
    base = np.array([[15, 7, 0], [15, 3, 15]], np.uint8)
    assert table.targets(user, base).tolist() == [[15, 21, PERSON], [IGNORE, 3, 21]]


def test_per_class_values_follow_the_users_classes():
    table = _table(("background", "scratch", "person"))
    values = table.per_class(np.array([0.5, 3.0, 2.0], np.float32), kept_value=0.5)
    assert values.dtype == np.float32 and values.shape == (22,)
    assert values[0] == 0.5 and values[21] == 3.0 and values[PERSON] == 2.0
    assert set(np.delete(values, [0, 21, PERSON]).tolist()) == {0.5}


def test_too_many_classes_for_a_mask_are_refused():
    names = ["background"] + [f"c{i}" for i in range(235)]
    with pytest.raises(InputError, match="256 classes with the base's 21: at most 255"):
        _table(names, [(0, 0, 0)] * len(names))


def test_dice_leaves_out_every_skipped_class_and_is_zero_with_none_left():
    target = torch.tensor([[[0, 1], [2, 2]]])
    logits = torch.zeros(1, 3, 2, 2)
    assert dice_loss(logits, target, skip=(0, 1, 2)).item() == 0.0
    assert dice_loss(logits, target, skip=(0, 1)).item() == pytest.approx(
        1 - (2 * 2 / 3 + 1) / (4 / 3 + 2 + 1), abs=1e-5)


def test_the_kept_classes_start_as_the_base_itself():
    table = _table(("background", "scratch"))
    model, _ = finetune_network(VOC, len(table.classes), table.rows(), seed=0)
    start_below_background(model, table)
    base = load_model(VOC)
    x = torch.randn(1, 3, 96, 128, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        ours, theirs = model.eval()(x), base(x)
    assert ours.shape[1] == 22
    assert torch.allclose(ours[:, :21], theirs, atol=1e-5)
    # the new class: the background's logit less ln 2, so the labels are the base's
    assert torch.allclose(ours[:, 21], theirs[:, 0] - np.log(2), atol=1e-5)
    assert torch.equal(ours.argmax(1), theirs.argmax(1))


def test_a_keep_classes_run_resumes_bit_for_bit(tmp_path):
    data = TrainingData.from_samples(synthetic_set(16))
    config = TrainConfig(size=64, batch=4, epochs=2, seed=3, patience=None, threads=1,
                         augment=AugmentSettings(crop=64), keep_classes=True)
    whole = Trainer(data, tmp_path / "a.pt", config).run()
    stop = threading.Event()
    part = Trainer(data, tmp_path / "b.pt", config, stop=stop,
                   on_progress=lambda p: p.step == 4 and stop.set()).run()
    assert part.reason == "stopped" and part.steps == 4
    resumed = Trainer(data, tmp_path / "b.pt", resume=True)
    assert resumed.config.keep_classes and len(resumed.data.classes) == 23
    assert resumed.run().steps == 6
    a, b = (torch.load(r / "last.pt", weights_only=True)["state_dict"]
            for r in (whole.run_dir, tmp_path / "b-run"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    card = get_spec(str(tmp_path / "b.pt"))
    assert card.categories == VOC_CLASSES + ("square", "disc")


def test_held_norms_use_and_keep_the_running_statistics_in_training():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4))
    net[1].running_mean.fill_(2.0)
    hold_norm_statistics(net)
    x = torch.randn(2, 3, 5, 5, generator=torch.Generator().manual_seed(0)) * 3 + 1
    trained = net.train()(x)
    assert torch.equal(net[1].running_mean, torch.full((4,), 2.0))
    assert torch.equal(trained, net.eval()(x))
    net.train()(x).sum().backward()
    assert net[1].weight.grad is not None  # scale and shift still learn


@pytest.mark.parametrize(("teacher", "student", "target", "temperature", "want"), [
    # p = (1/2, 1/2) against q = (1/3, 1/3) (+ 1/3 on the new class): KL = ln 1.5
    ([0.0, 0.0], [0.0, 0.0, 0.0], [0], 1.0, np.log(1.5)),
    # the same at temperature 2, scaled by 2 ** 2
    ([0.0, 0.0], [0.0, 0.0, 0.0], [0], 2.0, 4 * np.log(1.5)),
    # the student as the teacher, nothing on the new class: nothing to learn
    ([2.0, -1.0], [2.0, -1.0, -80.0], [1], 1.0, 0.0),
    # a dormant class rising (p = 1/2, 1/2 against q = e^3/(e^3+1), 1/(e^3+1)) is pulled down
    ([0.0, 0.0], [3.0, 0.0, -80.0], [0], 1.0,
     0.5 * np.log(0.5 * (np.e ** 3 + 1) / np.e ** 3) + 0.5 * np.log(0.5 * (np.e ** 3 + 1))),
    # pixels of the new class (2) and ignored ones hold nothing
    ([0.0, 0.0], [0.0, 0.0, 0.0], [2], 1.0, 0.0),
    ([0.0, 0.0], [0.0, 0.0, 0.0], [IGNORE], 1.0, 0.0),
])
def test_the_base_teacher_scores_the_kl_divergence_where_the_targets_are_the_bases(
        teacher, student, target, temperature, want):
    base = BaseTeacher(VOC, kept=2, temperature=temperature)
    base.model = lambda _x: torch.tensor(teacher).view(1, 2, 1, 1)
    logits = torch.tensor(student).view(1, 3, 1, 1)
    got = base.loss(logits, torch.zeros(1, 3, 2, 2), torch.tensor([[target]], dtype=torch.uint8))
    assert got.item() == pytest.approx(want, abs=1e-5)


def test_the_base_teacher_is_the_frozen_base_and_agrees_with_the_first_step():
    table = _table(("background", "scratch"))
    model, _ = finetune_network(VOC, len(table.classes), table.rows(), seed=0)
    hold_norm_statistics(model)
    teacher = BaseTeacher(VOC, table.kept)
    assert not any(p.requires_grad for p in teacher.model.parameters())
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    target = torch.zeros(2, 64, 64, dtype=torch.uint8)
    with torch.no_grad():
        classifier(model).bias[21] = -80.0  # the new class out of the way: the base itself
    start = teacher.loss(model.train()(x), x, target)
    with torch.no_grad():
        classifier(model).bias[3] += 15.0  # one base class (bird) starts to win
    assert start.item() < 1e-5 and teacher.loss(model(x), x, target).item() > 0.05


@pytest.mark.parametrize("share", [0.0, 0.04, 1.0])
def test_the_kept_rows_take_their_share_of_each_step_and_the_new_rows_all_of_it(share):
    table = _table(("background", "scratch"))
    steps = {}
    for hooked in (False, True):
        model, _ = finetune_network(VOC, len(table.classes), table.rows(), seed=0)
        head = classifier(model)
        optimizer = torch.optim.AdamW(head.parameters(), lr=0.1)
        if hooked:
            slow_kept_rows(optimizer, model, table, share)
        before = head.weight.detach().clone()
        x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
        model(x)[:, [3, 21]].sum().backward()
        optimizer.step()
        steps[hooked] = head.weight.detach() - before
    assert steps[False][:21].abs().max() > 0.01
    assert torch.allclose(steps[True][:21], share * steps[False][:21], atol=1e-6)
    assert torch.equal(steps[True][21], steps[False][21])


@pytest.mark.parametrize(("classes", "iou", "want"), [
    # the new class alone: the base's classes (background included) do not count
    (("background", "scratch"), {"background": 0.99, "person": 0.9, "bird": 0.0,
                                 "scratch": 0.25}, 0.25),
    # a base class the user named counts beside the new one; classes not seen are left out
    (("background", "scratch", "person"), {"person": 0.5, "scratch": 0.25, "dent": None},
     0.375),
    (("background", "scratch"), {"background": 0.99, "scratch": None}, None),
])
def test_a_keep_run_is_judged_by_the_classes_the_user_labelled(classes, iou, want):
    got = _table(classes).users_miou(iou)
    assert got == (None if want is None else pytest.approx(want))
