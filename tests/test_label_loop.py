"""The loop README's "Label your own footage" promises, end to end on a tiny video, in
seconds: the commands' own steps (the label folder made from the video, one object selected
with a click and accepted, carried through the other frames, trained on, then ``process
--model`` with the trained file). Its figures at full size are benchmarks/label_train_live.py's;
this checks the plumbing between the stages: frame counts, the class names travelling into
the model's card, and the trained model finding the object where it is."""

from __future__ import annotations

import cv2
import numpy as np

from livesegment import Selector
from livesegment.cli import main
from livesegment.cli.label import class_names, open_store
from livesegment.core.models.zoo import get_spec
from livesegment.pipeline.labelling import carry_labels, train_on_labels
from livesegment.pipeline.training import TrainConfig
from livesegment.pipeline.training.transforms import AugmentSettings
from tests.conftest import make_clip
from tests.pipeline.test_labelling import H, W, iou, square

FRAMES = 12
CLICKED = 3  # the frame the user clicks on: carried forwards and backwards from it
# crops of the model's size (the default 256 would pad these 96x128 frames): enough steps
# in seconds for the square to be learnt, which one epoch is not
TINY = TrainConfig(size=64, batch=4, epochs=8, seed=1, patience=None, threads=1,
                   augment=AugmentSettings(crop=64))


def test_label_carry_train_and_process_with_the_trained_model(tmp_path, capsys):
    clip = tmp_path / "walk.mp4"
    make_clip(clip, frames=FRAMES, size=(H, W))
    # livesegment label walk.mp4 -o walk-labels --classes box (the window's part: a click)
    store = open_store(clip, tmp_path / "walk-labels", class_names("box"))
    keys = store.keys()
    assert len(keys) == FRAMES
    selector = Selector(None)  # colour alone: no model weights needed for a red square
    selector.set_image(store.picture(keys[CLICKED]))
    ys, xs = np.nonzero(square(CLICKED))
    mask = selector.predict([(int(xs.mean()), int(ys.mean()), True)])
    assert iou(mask, square(CLICKED)) > 0.9
    assert store.save_labels(keys[CLICKED], mask.astype(np.uint8))  # Enter: class 1, "box"

    carried = carry_labels(store, keys[CLICKED])
    assert sorted(carried.frames) == [i for i in range(FRAMES) if i != CLICKED]
    assert len(store.labelled()) == FRAMES
    worst = min(iou(store.labels(k) == 1, square(i)) for i, k in enumerate(keys))
    assert worst > 0.8

    # "Train on these labels…" (the window's runner), small enough for seconds
    model = tmp_path / "walk.pt"
    outcome = train_on_labels(store, model, config=TINY)
    assert outcome.model == model and outcome.result.best_step > 0
    assert get_spec(str(model)).categories == ("background", "box")

    masks = tmp_path / "masks"
    assert main(["process", str(clip), "-o", str(tmp_path / "walk-out.mp4"), "--model",
                 str(model), "--masks", str(masks), "--smoothing", "0", "--quiet"]) == 0
    written = sorted(masks.glob("*.png"))
    assert len(written) == FRAMES
    for i, path in enumerate(written):
        labels = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        assert labels.shape == (H, W) and set(np.unique(labels)) <= {0, 1}
        box = labels == 1
        assert box[square(i)].mean() > 0.8, i  # the object is found where it is ...
        assert box[~square(i)].mean() < 0.1, i  # ... and the grey around it stays background
    capsys.readouterr()
