"""The trainer's pure parts, table-driven: transforms, split, loss, schedule, durations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from livesegment.io.datasets.records import IGNORE
from livesegment.pipeline.training.data import batch_ids, picture_weights
from livesegment.pipeline.training.losses import class_weights, dice_loss, segmentation_loss
from livesegment.pipeline.training.schedule import (
    lr_factor, parse_duration, time_plan,
)
from livesegment.pipeline.training.split import rarest_class, split_samples
from livesegment.pipeline.training.transforms import (
    AugmentSettings, adjust_light, augment, crop_at, flip_turn, pick_centre, rescale,
)


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    labels = (np.arange(h * w) % 200).reshape(h, w).astype(np.uint8)
    return np.stack([labels] * 3, -1), labels


@pytest.mark.parametrize(("shape", "centre", "side", "top_left_label", "ignored"), [
    ((10, 10), (5, 5), 4, 33, 0),          # inside: window 3..6 x 3..6
    ((10, 10), (0, 0), 4, 0, 0),           # at a corner: slid inside, not padded
    ((10, 10), (9, 9), 4, 66, 0),          # the far corner
    ((4, 6), (2, 3), 8, IGNORE, 8 * 8 - 24),  # smaller than the crop: padded, pad ignored
])
def test_crop_at(shape, centre, side, top_left_label, ignored):
    image, labels = _grid(*shape)
    img, lab = crop_at(image, labels, centre, side)
    assert img.shape == (side, side, 3) and lab.shape == (side, side)
    assert lab[0, 0] == top_left_label and (lab == IGNORE).sum() == ignored
    assert set(np.unique(lab[lab != IGNORE])) <= set(np.unique(labels))


def test_crop_at_fills_beyond_the_picture_with_the_given_colour():
    image, labels = _grid(4, 6)
    img, lab = crop_at(image, labels, (2, 3), 8, fill=(7, 8, 9))
    outside = lab == IGNORE
    assert outside.sum() == 8 * 8 - 24
    assert (img[outside] == (7, 8, 9)).all() and (img[~outside][:, 0] == lab[~outside]).all()


@pytest.mark.parametrize(("flip", "turns", "corner"), [
    (False, 0, 0), (True, 0, 2), (False, 1, 2), (False, 2, 5), (True, 1, 0), (True, 3, 5),
])
def test_flip_turn_moves_picture_and_labels_together(flip, turns, corner):
    labels = np.arange(6, dtype=np.uint8).reshape(2, 3)
    image = np.stack([labels * 10] * 3, -1)
    img, lab = flip_turn(image, labels, flip, turns)
    assert lab[0, 0] == corner and (img[..., 0] == lab * 10).all()
    assert lab.flags.c_contiguous


def test_rescale_keeps_label_values_and_zooms():
    image, labels = _grid(20, 30)
    img, lab = rescale(image, labels, 0.5)
    assert lab.shape == (10, 15) and img.shape == (10, 15, 3)
    assert set(np.unique(lab)) <= set(np.unique(labels))  # nearest: no blended ids


@pytest.mark.parametrize(("brightness", "contrast", "expected"), [
    (0.0, 0.0, [100, 200]), (0.1, 0.0, [126, 226]), (0.0, 1.0, [50, 250]),
    (0.0, -1.0, [150, 150]), (0.5, 0.0, [228, 255]),
])
def test_adjust_light(brightness, contrast, expected):
    image = np.array([[[100] * 3, [200] * 3]], np.uint8)
    assert adjust_light(image, brightness, contrast)[0, :, 0].tolist() == expected


def test_rare_crops_centre_on_the_rare_class():
    labels = np.zeros((200, 200), np.uint8)
    labels[150:153, 20:23] = 3  # a tiny defect
    rarity = np.array([0.0, 0, 0, 50.0])
    rng = np.random.default_rng(0)
    centres = [pick_centre(labels, rng, rarity, 1.0, 0) for _ in range(20)]
    assert all(150 <= y < 153 and 20 <= x < 23 for y, x in centres)
    spread = [pick_centre(labels, rng, rarity, 0.0, 0) for _ in range(50)]
    assert len(set(spread)) > 40  # anywhere when not asked for rare crops


def test_augment_is_a_function_of_its_generator():
    image, labels = _grid(50, 70)
    settings = AugmentSettings(crop=32)
    rarity = np.ones(200)
    a = augment(image, labels, np.random.default_rng(7), settings, 1.0, rarity)
    b = augment(image, labels, np.random.default_rng(7), settings, 1.0, rarity)
    c = augment(image, labels, np.random.default_rng(8), settings, 1.0, rarity)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])
    assert a[0].shape == (32, 32, 3) and a[1].shape == (32, 32)


def _split(names, splits, strata, share=0.2, seed=0):
    return split_samples(names, splits, strata, share, seed)


def test_split_is_stratified_stable_and_seeded():
    names = [f"p{i}" for i in range(50)]
    strata = [i % 5 for i in range(50)]  # five classes, ten pictures each
    split = _split(names, [""] * 50, strata)
    assert len(split.val) == 10 and sorted(split.train + split.val) == list(range(50))
    assert [sum(strata[i] == k for i in split.val) for k in range(5)] == [2] * 5
    assert _split(names, [""] * 50, strata) == split
    again = _split(names[::-1], [""] * 50, strata[::-1])  # listed in another order
    assert {names[::-1][i] for i in again.val} == {names[i] for i in split.val}
    assert _split(names, [""] * 50, strata, seed=1).val != split.val
    more = _split(names + ["new"], [""] * 51, strata + [0])  # a picture added
    assert len({names[i] for i in split.val} - {(names + ["new"])[i] for i in more.val}) <= 1


@pytest.mark.parametrize(("splits", "train", "val"), [
    (["train", "train", "val", "test"], (0, 1), (2,)),   # the dataset's own, test left out
    (["", "", "", "test"], (1, 2), (0,)),                 # 80/20 of the non-test pictures
])
def test_split_uses_the_dataset_s_own_and_never_test(splits, train, val):
    names = ["a", "b", "c", "d"]
    split = _split(names, splits, [0] * 4, share=0.34, seed=2)
    assert set(split.train) | set(split.val) == set(train) | set(val)
    assert 3 not in split.train + split.val
    if splits[2] == "val":
        assert (split.train, split.val, split.how) == (train, val, "dataset")


def test_a_rare_stratum_of_one_stays_in_training_and_two_give_one():
    split = _split(["a", "b", "c"], [""] * 3, [0, 1, 1], share=0.2)
    assert 0 in split.train and len([i for i in split.val if i in (1, 2)]) == 1


def test_rarest_class():
    freq = np.array([0.9, 0.01, 0.09])
    assert rarest_class(np.array([100, 3, 5]), freq, 0) == 1
    assert rarest_class(np.array([100, 0, 5]), freq, 0) == 2
    assert rarest_class(np.array([100, 0, 0]), freq, 0) == -1


def test_class_weights_favour_rare_classes_capped():
    weights = class_weights(np.array([900, 90, 9, 0]), power=0.5, cap=10)
    median = np.median([0.9, 0.09, 0.009]) / 0.999
    assert weights[3] == 0 and weights[0] < weights[1] < weights[2]
    assert weights[1] == pytest.approx(1.0) and weights[2] == pytest.approx(
        np.sqrt(median / (9 / 999)), rel=1e-5)
    assert class_weights(np.array([10**6, 1]), power=1.0, cap=10)[1] == 10


def test_dice_is_zero_for_a_perfect_answer_and_ignores_ignored_pixels():
    target = torch.tensor([[[0, 1], [1, IGNORE]]])
    perfect = torch.nn.functional.one_hot(target.clamp(max=1), 2).permute(0, 3, 1, 2) * 50.0
    assert dice_loss(perfect.float(), target, skip=0).item() == pytest.approx(0, abs=1e-6)
    wrong = perfect.flip(1)
    wrong[0, :, 1, 1] = torch.tensor([50.0, -50.0])  # the ignored pixel: anything goes
    # class 1: no overlap, 2 predicted... of 2 true: dice = (0 + 1) / (1 + 2 + 1)
    assert dice_loss(wrong.float(), target, skip=0).item() == pytest.approx(1 - 1 / 4, abs=1e-4)


def test_loss_ignores_ignored_pixels_and_upsamples_logits():
    target = torch.full((1, 8, 8), IGNORE, dtype=torch.uint8)
    target[0, :4] = 1
    logits = torch.zeros(1, 2, 4, 4)
    logits[0, 1, :2] = 10.0  # right where labelled, at half resolution
    loss = segmentation_loss(logits, target, torch.ones(2), dice_weight=0.0, dice_skip=0)
    assert loss.item() < 1e-3


def test_lr_warms_up_then_decays_to_the_floor():
    total = 100
    factors = [lr_factor(s, total) for s in range(total)]
    assert factors[0] == pytest.approx(0.25) and max(factors) == pytest.approx(1.0)
    assert factors[-1] == pytest.approx(0.02, abs=0.01)
    peak = factors.index(max(factors))
    assert all(a >= b for a, b in zip(factors[peak:], factors[peak + 1:]))


@pytest.mark.parametrize(("left", "step_s", "val_s", "cap", "total", "every"), [
    (600, 1.0, 6.0, None, 10 + 528, 44),     # 12 % of the time validating: 12 of 6 s
    (60, 1.0, 5.0, None, 10 + 45, 15),       # short: 3 validations, still under 30 %
    (20, 1.0, 10.0, None, 10 + 10, 10),      # too short for 3: as many as 30 % allows, 1
    (600, 1.0, 6.0, 100, 100, 8),            # capped by --epochs
])
def test_time_plan(left, step_s, val_s, cap, total, every):
    plan = time_plan(10, left, step_s, val_s, cap)
    assert (plan.total_steps, plan.val_every) == (total, every)


@pytest.mark.parametrize(("text", "seconds"), [
    ("600", 600), (90, 90), ("90s", 90), ("10m", 600), ("1.5h", 5400), (" 2min ", 120),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["10x", "0", "-5m", "nan", "m", ""])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError, match="time"):
        parse_duration(text)


def test_each_epoch_shows_each_picture_once():
    train = list(range(100, 120))
    epoch = [i for step in range(5) for i in batch_ids(train, 4, seed=1, step=step)]
    assert sorted(epoch) == train
    assert batch_ids(train, 4, 1, 5) != batch_ids(train, 4, 1, 0)  # reshuffled next epoch
    assert batch_ids(train, 4, 1, 7) == batch_ids(train, 4, 1, 7)
    assert sorted(batch_ids([1, 2], 4, 0, 0)) == [1, 1, 2, 2]  # a batch bigger than the set


@pytest.mark.parametrize(("counts", "power", "expected"), [
    # pictures x (background, a, b): a is in 1 of 4 pictures, b in 2 of 4
    ([[9, 0, 0], [9, 1, 0], [9, 0, 1], [9, 0, 1]], 0.5, [1.0, 2.0, 2 ** 0.5, 2 ** 0.5]),
    ([[9, 0, 0], [9, 1, 0], [9, 0, 1], [9, 1, 1]], 1.0, [1.0, 2.0, 2.0, 2.0]),  # rarest wins
    ([[9, 0, 0], [9, 1, 0]], 0.0, None),                     # power 0: once an epoch each
    ([[0, 5, 0], [9, 5, 0]], 1.0, [1.0, 1.0]),               # a class in every picture
])
def test_picture_weights_follow_the_rarest_class_shown(counts, power, expected):
    weights = picture_weights(np.array(counts), 0, power)
    if expected is None:
        assert weights is None
    else:
        np.testing.assert_allclose(weights, expected)


def test_weighted_batches_draw_pictures_at_their_odds_from_seed_and_step():
    train, weights = [10, 11, 12], np.array([1.0, 1.0, 2.0])
    drawn = [i for step in range(400) for i in batch_ids(train, 1, 0, step, weights)]
    share = drawn.count(12) / len(drawn)
    assert 0.42 < share < 0.58  # half the odds: ~0.5 of 400 draws
    assert batch_ids(train, 2, 0, 9, weights) == batch_ids(train, 2, 0, 9, weights)
    assert len(set(batch_ids(train, 3, 0, 1, weights))) == 3  # no repeats within a batch
