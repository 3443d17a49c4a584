"""Keeping the base model's classes (``keep_classes``): the class table, the rule that joins
the base and the fine-tune, a kept model on a real frame, its card, its export, and a run
that trains the plain fine-tune and resumes."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
import torch

from livesegment.api import read_frames
from livesegment.core.frames import Frame
from livesegment.core.models.kept import KeptBase
from livesegment.core.models.model_file import ModelCard, describe_card, pack, read_model_file
from livesegment.core.models.zoo import VOC_CLASSES, get_spec, load_model
from livesegment.core.segmenter import Segmenter, mask_labels
from livesegment.errors import InputError, WeightsError
from livesegment.io.datasets.records import IGNORE
from livesegment.io.sample import sample_clip
from livesegment.pipeline.export import export_onnx
from livesegment.pipeline.training import TrainConfig, Trainer, TrainingData
from livesegment.pipeline.training.keep import kept_card, merge_classes
from livesegment.pipeline.training.losses import dice_loss
from livesegment.pipeline.training.network import finetune_network
from livesegment.pipeline.training.transforms import AugmentSettings
from tests.pipeline.synthetic import CLASSES, synthetic_set

VOC = get_spec("espnetv2-voc")
PERSON = VOC_CLASSES.index("person")


def _table(classes, colours=None, background=0, base=VOC):
    colours = colours or [(0, 0, 0)] + [(10 * i, 200, 30) for i in range(1, len(classes))]
    return merge_classes(base, classes, colours, background)


@pytest.mark.parametrize(("classes", "background", "want", "lookup"), [
    # new classes follow the base's 21; the user's background is the base's
    (("background", "scratch", "dent"), 0, VOC_CLASSES + ("scratch", "dent"),
     {0: 0, 1: 21, 2: 22}),
    # a class named like one of the base's is that class (case and spaces aside)
    (("bg", "scratch", "Person "), 0, VOC_CLASSES + ("scratch",), {0: 0, 1: 21, 2: PERSON}),
    # the user's background need not be id 0
    (("scratch", "nothing"), 1, VOC_CLASSES + ("scratch",), {0: 21, 1: 0}),
])
def test_the_result_has_the_base_classes_then_the_new_ones(classes, background, want, lookup):
    table = _table(classes, background=background)
    assert table.classes == want and table.background == 0 and table.kept == 21
    assert {u: int(table.lookup[u]) for u in lookup} == lookup
    assert table.lookup[IGNORE] == IGNORE
    assert table.new_ids == tuple(range(21, len(want)))
    assert table.ids(len(classes)) == [lookup[i] for i in range(len(classes))]


def test_a_new_class_never_shares_a_colour_with_a_base_class():
    voc_colours = [tuple(int(v) for v in c) for c in VOC.palette]
    table = _table(("background", "scratch", "dent"), [(0, 0, 0), voc_colours[15], (1, 2, 3)])
    assert table.colours[:21] == tuple(voc_colours)
    assert table.colours[21] not in voc_colours and table.colours[22] == (1, 2, 3)


def test_a_base_with_its_background_last_keeps_it_there():
    city = get_spec("espnetv2-cityscapes")
    table = _table(("background", "scratch"), base=city)
    assert table.background == 19 and table.lookup[0] == 19 and table.classes[20] == "scratch"


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




class Fixed(torch.nn.Module):
    """A network that answers every picture with the same logits."""

    def __init__(self, logits) -> None:
        super().__init__()
        self.logits = torch.tensor(logits, dtype=torch.float32).view(1, -1, 1, len(logits[0]))

    def forward(self, _x: torch.Tensor) -> torch.Tensor:
        return self.logits


# the base: 3 classes (0 its background); the fine-tune: background, scratch (new, id 3) and
# a class named like the base's class 1. Each column is one pixel.
BASE = [[2.0, 2.0, 0.0, 0.0, 0.0, 1.0],
        [0.0, 1.0, 3.0, 0.0, 0.0, 0.5],
        [1.0, 0.0, 0.0, 2.5, 3.0, 0.0]]
ODDS = float(np.log(1.5))  # pixel 5: the fine-tune's background 0.6, scratch 0.4
TUNED = [[3.0, 0.0, 0.0, 2.0, 0.0, ODDS],    # background
         [0.0, 3.0, 0.0, 1.0, 0.0, 0.0],     # scratch
         [0.0, 0.0, 3.0, 0.0, 3.0, -50.0]]   # the base's class 1, labelled by the user
# the fine-tune's class where it finds one of the user's (pixels 1, 2, 4: class 1 where the
# base says 2), the base's label where it says background (0, 3, 5), even where a new class
# is its close second (5: a mix of the two would give scratch 0.4 against 0.6 x 0.55)
WANT = [0, 3, 1, 2, 1, 0]


def test_the_kept_label_is_the_fine_tunes_class_else_the_bases():
    model = KeptBase(Fixed(BASE), Fixed(TUNED), ids=[0, 3, 1], tuned_background=0,
                     num_classes=4)
    scores = model(torch.zeros(1, 3, 8, 8))
    assert scores.shape == (1, 4, 1, 6)
    assert scores.argmax(1)[0, 0].tolist() == WANT
    # between the base's classes (those the user did not label), the base's own margins
    base = torch.tensor(BASE)
    assert torch.allclose(scores[0, 0, 0] - scores[0, 2, 0], base[0] - base[2], atol=1e-6)


def _frames(count: int, every: int = 40) -> list[np.ndarray]:
    return [f for i, f in enumerate(read_frames(sample_clip())) if i % every == 0][:count]


def _kept_card(classes, size=96) -> ModelCard:
    colours = [(0, 0, 0)] + [(200, 0, 200 - i) for i in range(1, len(classes))]
    plain = ModelCard(title="parts", architecture="espnetv2", decoder_projection=10,
                      base=VOC.name, classes=tuple(classes), colours=tuple(colours),
                      background=0, mean=VOC.mean, std=VOC.std, size=size, size_multiple=32,
                      licence="test")
    return kept_card(plain, merge_classes(VOC, classes, colours, 0), VOC)


def _kept_file(path, classes, rows, size=96):
    """A kept model file whose fine-tune is espnetv2-voc with ``rows`` (class -> VOC row)."""
    tuned, _ = finetune_network(VOC, len(classes), rows, seed=0)
    torch.save(pack(_kept_card(classes, size), tuned.state_dict()), path)
    return path


def test_a_kept_model_labels_real_frames_as_the_base_except_where_the_new_class_is(tmp_path):
    # the fine-tune's "scratch" row is the base's person row: it claims the people
    path = _kept_file(tmp_path / "kept.pt", ("background", "scratch"), {0: 0, 1: PERSON})
    kept = Segmenter.create(str(path), device="cpu")
    base = Segmenter.create("espnetv2-voc", device="cpu", size=kept.size)
    assert kept.spec.categories == VOC_CLASSES + ("scratch",)
    people = claimed = 0
    for i, bgr in enumerate(_frames(4)):
        ours = mask_labels(kept.infer(Frame(i, 0.0, bgr))).cpu().numpy()
        theirs = mask_labels(base.infer(Frame(i, 0.0, bgr))).cpu().numpy()
        new = ours == 21
        assert np.array_equal(ours[~new], theirs[~new])  # the base's, exactly
        people += int((theirs == PERSON).sum())
        claimed += int((new & (theirs == PERSON)).sum())
        assert not (ours == PERSON).any()  # person is the fine-tune's scratch now
    assert people > 200 and claimed / people > 0.95, (people, claimed)


def test_a_kept_model_file_has_its_card_loads_and_refuses_plain_weights(tmp_path):
    path = _kept_file(tmp_path / "kept.pt", ("background", "scratch", "Person"), {0: 0})
    card, content = read_model_file(path)
    assert card.classes == VOC_CLASSES + ("scratch",)
    assert card.kept == {"classes": ["background", "scratch", "Person"], "background": 0,
                         "ids": [0, 21, PERSON]}
    assert '"version": 2' in content["livesegment_card"]
    text = "\n".join(describe_card(card, path))
    assert "classes: 22, espnetv2-voc's own (it runs beside the fine-tune, frozen) and " \
           "scratch, Person where the fine-tune finds them" in text
    spec = get_spec(str(path))
    model = load_model(spec)
    assert isinstance(model, KeptBase) and model.tuned.state_dict().keys() \
        == content["state_dict"].keys()  # the file holds the fine-tune alone
    assert all(torch.equal(v, content["state_dict"][k])
               for k, v in model.tuned.state_dict().items())
    plain = tmp_path / "plain.pt"
    torch.save(pack(ModelCard(**{**card.__dict__, "classes": card.kept["classes"],
                                 "colours": card.colours[:3], "kept": {}}),
                    content["state_dict"]), plain)
    with pytest.raises(WeightsError, match="plain.pt holds no fine-tune"):
        load_model(spec, plain)


@pytest.mark.parametrize(("kept", "problem"), [
    ({"classes": ["background"], "ids": [0], "background": 0}, "2+"),
    ({"classes": ["background", "scratch"], "ids": [0], "background": 0}, "a class id for each"),
    ({"classes": ["background", "scratch"], "ids": [0, 22], "background": 0}, "below 22"),
    ({"classes": ["background", "scratch"], "ids": [0, 21], "background": 2}, "background"),
    (["background"], "a table"),
])
def test_a_damaged_kept_table_is_refused(kept, problem):
    card = _kept_card(("background", "scratch"))
    with pytest.raises(ValueError, match=problem):
        ModelCard(**{**card.__dict__, "kept": kept})


def test_a_kept_model_exports_as_one_graph(tmp_path):
    path = _kept_file(tmp_path / "kept.pt", ("background", "scratch"), {0: 0, 1: PERSON}, 64)
    report = export_onnx(str(path), tmp_path / "kept.onnx")
    assert report.output_shape == (1, 22, 64, 64) and report.agreement == 1.0


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
    assert resumed.config.keep_classes
    assert resumed.run().steps == 6
    a, b = (torch.load(r / "last.pt", weights_only=True)["state_dict"]
            for r in (whole.run_dir, tmp_path / "b-run"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert get_spec(str(tmp_path / "b.pt")).categories == VOC_CLASSES + ("square", "disc")


def test_a_keep_run_trains_the_plain_fine_tune_and_its_file_keeps_the_base(tmp_path):
    data = TrainingData.from_samples(synthetic_set(16))
    config = TrainConfig(size=64, batch=4, epochs=1, seed=3, patience=None, threads=1,
                         augment=AugmentSettings(crop=64))
    plain = Trainer(data, tmp_path / "plain.pt", config).run()
    kept = Trainer(data, tmp_path / "kept.pt", replace(config, keep_classes=True)).run()
    a, b = (read_model_file(r.output) for r in (plain, kept))
    assert all(torch.equal(a[1]["state_dict"][k], b[1]["state_dict"][k])
               for k in a[1]["state_dict"])
    assert b[0].classes == VOC_CLASSES + CLASSES[1:] and b[0].kept["ids"] == [0, 21, 22]
    assert b[0].validation == a[0].validation  # the fine-tune's own figures
    assert b[0].title.endswith("(23 classes, fine-tuned from espnetv2-voc, its 21 classes "
                               "kept)")


def test_resuming_a_run_whose_checkpoint_holds_another_network_says_so(tmp_path):
    data = TrainingData.from_samples(synthetic_set(8))
    config = TrainConfig(size=64, batch=4, epochs=1, seed=3, patience=None, threads=1,
                         augment=AugmentSettings(crop=64), keep_classes=True)
    run = Trainer(data, tmp_path / "k.pt", config).run().run_dir
    saved = torch.load(run / "last.pt", weights_only=True)
    head = "bu_dec_l4.merge_layer.3"  # as an earlier version's keep run left it: 23 rows
    saved["state_dict"][f"{head}.weight"] = torch.zeros(23, 10, 1, 1)
    saved["state_dict"][f"{head}.bias"] = torch.zeros(23)
    torch.save(saved, run / "last.pt")
    with pytest.raises(InputError, match="last.pt holds another network than this run trains"):
        Trainer(data, tmp_path / "k.pt", resume=True)
