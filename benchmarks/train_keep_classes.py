"""Keeping the base model's classes (``train --keep-classes``) against a plain fine-tune
(BENCHMARKS.md, "Training", "Keeping the base model's classes").

Both runs train on the same magnetic-tile pictures with the same seed and the same number of
epochs (epochs, not a time budget, so the machine's load cannot change what is learnt); the
test fifth is held out as in ``train_magnetic_tile.py``. The script prints:

- each model's IoU of the defect classes on the held-out pictures (each run's last weights,
  :func:`measured`; the same Validator path as ``eval``; the kept model's VOC classes count
  as background there, as ``eval`` maps them);
- the kept model's agreement with espnetv2-voc on frames of the bundled sample clip (people at
  a table): pixel agreement, and the IoU of each VOC class with espnetv2-voc's own labels as
  the truth, both models at the trained model's inference size;
- the milliseconds a clip frame takes each model (``--timing``), and the kept model's cost as
  a multiple of the plain one's.

A keep run trains the very fine-tune the plain run does (the same weights, step for step); its
file runs it beside the frozen base. The new classes' gap is therefore 0 by construction, and
what the script shows is the agreement and the cost.

    python benchmarks/train_keep_classes.py --epochs 3 [--out DIR] [--seed 0] [--every 10]

``--task clip`` trains on frames of the sample clip itself instead (a quick task where the
pictures are the base's kind): every other of 64 frames at short side ``--size`` with a
magenta bar drawn on it as the new class ``scratch``, the frames between with new bars to
measure on.

(``--only plain`` and ``--only keep`` train the two at once in two processes, one thread each;
the same command without ``--only`` then measures the two model files it finds in ``--out``.)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

from benchmarks.train_magnetic_tile import DATA, held_out, subset
from livesegment.api import read_frames
from livesegment.core.frames import Frame
from livesegment.core.metrics import ScoreAccumulator
from livesegment.core.models.model_file import read_model_file
from livesegment.core.segmenter import Segmenter, mask_labels
from livesegment.io.datasets import open_dataset
from livesegment.io.datasets.records import Sample
from livesegment.io.sample import sample_clip
from livesegment.pipeline.training import TrainConfig, Trainer, TrainingData
from livesegment.pipeline.training.checkpoints import read_checkpoint
from livesegment.pipeline.training.validate import HeldBack
from livesegment.pipeline.validate import Validator

RUNS = ("plain", "keep")
CLIP_FRAMES = 300  # the sample clip's


def defect_iou(model: Path, test: TrainingData) -> dict:
    seg = Segmenter.create(str(model), device="cpu")
    scores = Validator(seg, HeldBack(test, range(len(test.samples))), keep_worst=0).run().scores
    return {"defect_miou": scores.foreground_miou, "iou": dict(zip(scores.classes, scores.iou))}


def footage_agreement(model: Path, base: str, every: int) -> dict:
    """The trained model's labels against the base's on every ``every``-th clip frame."""
    trained = Segmenter.create(str(model), device="cpu")
    reference = Segmenter.create(base, device="cpu", size=trained.size)
    kept = reference.spec.num_classes
    scores = ScoreAccumulator(trained.spec.categories, trained.spec.background)
    frames = 0
    for i, bgr in enumerate(read_frames(sample_clip())):
        if i % every:
            continue
        frame = Frame(i, 0.0, bgr)
        truth = mask_labels(reference.infer(frame)).cpu().numpy()
        scores.add(truth, mask_labels(trained.infer(frame)).cpu().numpy())
        frames += 1
    s = scores.scores()
    voc = [v for v in s.iou[:kept] if v is not None]
    return {"frames": frames, "size": trained.size, "pixel_agreement": s.pixel_accuracy,
            "voc_miou": float(np.mean(voc)),
            "iou": {c: v for c, v in zip(s.classes[:kept], s.iou) if v is not None},
            "base_pixels": {c: n for c, n in zip(s.classes[:kept], s.true_pixels) if n}}


def frame_times(models: list[Path], count: int) -> list[float]:
    """Median milliseconds a frame of the sample clip takes each model (mask labels out), the
    models in turn on each frame so that the machine's load falls on all of them alike."""
    segmenters = [Segmenter.create(str(m), device="cpu") for m in models]
    times: list[list[float]] = [[] for _ in models]
    for i, bgr in enumerate(read_frames(sample_clip())):
        if i > count:
            break
        for seg, own in zip(segmenters, times):
            start = time.perf_counter()
            mask_labels(seg.infer(Frame(i, 0.0, bgr)))
            if i:  # the first frame warms up
                own.append(1000 * (time.perf_counter() - start))
    return [float(np.median(t)) for t in times]


def with_negatives(data: TrainingData, count: int, every: int) -> TrainingData:
    """``data`` and ``count`` frames of the sample clip, none of those the agreement is measured
    on, as pictures with none of the user's classes: what the footage is not."""
    if not count:
        return data
    frames = [f for i, f in enumerate(read_frames(sample_clip())) if i % every == every // 2]
    picked = np.linspace(0, len(frames) - 1, count).astype(int)
    extra = [Sample(f"clip{k:03d}.png", frames[k], np.zeros(frames[k].shape[:2], np.uint8),
                    data.classes) for k in picked]
    return TrainingData.from_samples(data.samples + tuple(extra), data.classes, data.colours,
                                     data.background, data.source)


def clip_task(size: int, count: int = 64, seed: int = 0) -> tuple[TrainingData, list, list]:
    """(pictures, train ids, test ids) of the clip task: frames with a magenta bar each."""
    wanted = set(np.linspace(0, CLIP_FRAMES - 1, count).astype(int).tolist())
    frames = [f for i, f in enumerate(read_frames(sample_clip())) if i in wanted]
    rng = np.random.default_rng(seed)
    samples = []
    for k, frame in enumerate(frames):
        h, w = frame.shape[:2]
        image = cv2.resize(frame, (round(w * size / h), size), interpolation=cv2.INTER_AREA)
        labels = np.zeros(image.shape[:2], np.uint8)
        x0, y0 = (int(v) for v in rng.integers(0, image.shape[1::-1]))
        x1, y1 = (int(v) for v in rng.integers(0, image.shape[1::-1]))
        cv2.line(labels, (x0, y0), (x1, y1), 1, int(rng.integers(3, 8)))
        image[labels == 1] = (200, 0, 200)
        samples.append(Sample(f"frame{k:03d}.png", image, labels, ("background", "scratch")))
    data = TrainingData.from_samples(samples, colours=((0, 0, 0), (200, 0, 200)),
                                     source="sample-clip")
    return data, list(range(0, count, 2)), list(range(1, count, 2))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--every", type=int, default=10, help="every N-th clip frame (300 in all)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--crop", type=int, default=256, help="training crop side (both runs)")
    p.add_argument("--only", choices=RUNS, help="train this run only (two processes can "
                   "train both at once into one --out; a run without --only then measures)")
    p.add_argument("--out", type=Path)
    p.add_argument("--task", choices=("tile", "clip"), default="tile")
    p.add_argument("--size", type=int, default=160, help="the clip task's frame short side")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--negatives", type=int, default=0, help="clip frames (halfway between "
                   "those measured on) added to the training pictures with background-only "
                   "masks, for both runs")
    p.add_argument("--timing", type=int, default=20, help="clip frames each model is timed "
                   "on, the two models in turn (0: none)")
    args = p.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="train-keep-"))
    out.mkdir(parents=True, exist_ok=True)
    if args.task == "clip":
        whole, rest, test = clip_task(args.size)
    else:
        dataset = open_dataset(DATA)
        whole = TrainingData.from_samples(dataset, colours=dataset.colours,
                                          background=dataset.background, source=str(DATA))
        rest, test = held_out(whole, 0.2)
    training = with_negatives(subset(whole, rest), args.negatives, args.every)
    for name in [args.only] if args.only else RUNS:
        if not (out / f"{name}.pt").exists():  # a model already there is measured, not redone
            config = TrainConfig(epochs=args.epochs, seed=args.seed, threads=args.threads,
                                 patience=None, keep_classes=name == "keep", batch=args.batch,
                                 size=args.size if args.task == "clip" else None)
            config = replace(config, augment=replace(config.augment, crop=args.crop))
            Trainer(training, out / f"{name}.pt", config).run()
    if args.only:
        return
    torch.set_num_threads(args.threads)
    report: dict = {}
    for name in RUNS:
        card, _ = read_model_file(out / f"{name}.pt")
        report[name] = {k: card.training.get(k) for k in ("epochs", "seed", "steps",
                                                          "best_step", "seconds")}
        config = read_checkpoint(out / f"{name}-run" / "last.pt")[2]["config"]
        report[name]["config"] = {k: config.get(k) for k in ("lr", "head_lr_scale")}
        report[name]["val_miou"] = card.validation.get("miou")
        report[name]["test"] = defect_iou(measured(out, name), subset(whole, test))
    report["keep"]["footage"] = footage_agreement(measured(out, "keep"), card.base, args.every)
    if args.timing:
        report["ms_per_frame"] = frame_times([measured(out, n) for n in RUNS], args.timing)
        report["keep_cost"] = report["ms_per_frame"][1] / report["ms_per_frame"][0]
    new = [c for c in whole.classes if c != whole.classes[whole.background]]
    report["new_class_iou_gap"] = {c: _gap(report, c) for c in new}
    report["defect_miou_gap"] = (report["keep"]["test"]["defect_miou"]
                                 - report["plain"]["test"]["defect_miou"])
    print(json.dumps(report, indent=1, default=str))
    (out / "report.json").write_text(json.dumps(report, indent=1, default=str))


def measured(out: Path, name: str) -> Path:
    """The run's last weights (its ``last.pt`` loads as a model), the same step for both."""
    return out / f"{name}-run" / "last.pt"


def _gap(report: dict, name: str) -> float | None:
    """The kept model's IoU of class ``name`` minus the plain fine-tune's."""
    a, b = report["keep"]["test"]["iou"].get(name), report["plain"]["test"]["iou"].get(name)
    return None if a is None or b is None else a - b


if __name__ == "__main__":
    main()
