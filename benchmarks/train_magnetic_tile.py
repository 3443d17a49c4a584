"""Fine-tuning on the magnetic-tile defects in a time budget (BENCHMARKS.md, "Training").

A fifth of the pictures (seeded, stratified by defect type) is held out as a test set the run
never sees; the trainer gets the rest and makes its own validation split from them. The saved
model file is then measured on the test pictures through the same path every front end uses
(get_spec -> Segmenter), and the script prints the defect mIoU (mean IoU over the five defect
classes), every class's IoU, and where the run's time went.

    python benchmarks/train_magnetic_tile.py --time 600 [--naive] [--out DIR] [--seed 0]

``--naive`` is the plain fine-tune to compare with: cross-entropy only, no class weights, no
Dice, crops anywhere, flips only.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from livesegment.core.frames import Frame
from livesegment.core.metrics import ScoreAccumulator
from livesegment.core.models.model_file import read_model_file
from livesegment.core.segmenter import Segmenter
from livesegment.io.datasets import open_dataset
from livesegment.pipeline.training import TrainConfig, Trainer, TrainingData
from livesegment.pipeline.training.split import rarest_class, split_samples

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "magnetic-tile"
TEST_SEED = 1234


def held_out(data: TrainingData, share: float) -> tuple[list[int], list[int]]:
    """(rest, test): a stratified share kept apart with its own seed."""
    freq = data.frequency(range(len(data.samples)))
    strata = [rarest_class(row, freq, data.background) for row in data.counts]
    split = split_samples(data.names, [""] * len(data.names), strata, share, TEST_SEED)
    return list(split.train), list(split.val)


def subset(data: TrainingData, ids: list[int]) -> TrainingData:
    return replace(data, samples=tuple(data.samples[i] for i in ids), counts=data.counts[ids])


def measure(model: Path, data: TrainingData) -> dict:
    seg = Segmenter.create(str(model), device="cpu")
    scores = ScoreAccumulator(data.classes, data.background)
    start = time.perf_counter()
    for sample in data.samples:
        frame = Frame(0, 0.0, sample.image)
        scores.add(sample.labels, seg.compose(seg.infer(frame), seg.default_style()).labels)
    s = scores.scores()
    return {"defect_miou": s.foreground_miou, "miou": s.miou,
            "iou": dict(zip(s.classes, s.iou)), "pictures": s.pictures,
            "seconds_per_picture": (time.perf_counter() - start) / s.pictures}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--time", type=float, default=600.0,
                   help="budget in seconds (0: none, --epochs decides)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--naive", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path)
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="a TrainConfig field (lr=0.003, batch=8, crop=192 for the augment crop)")
    args = p.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="train-tile-"))
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    dataset = open_dataset(DATA)
    whole = TrainingData.from_samples(dataset, colours=dataset.colours,
                                      background=dataset.background, source=str(DATA))
    read_s = time.perf_counter() - start
    rest, test = held_out(whole, 0.2)
    config = TrainConfig(time_s=args.time or None, epochs=args.epochs, seed=args.seed)
    if args.naive:
        config = replace(config, dice_weight=0.0, weight_power=0.0,
                         augment=replace(config.augment, rare_crop=0.0, turns=False,
                                         scale=(1.0, 1.0), brightness=0.0, contrast=0.0))
    for item in args.set:
        key, value = item.split("=", 1)
        if key in ("crop", "rare_crop", "mean_fill"):
            config = replace(config, augment=replace(config.augment, **{key: type(
                getattr(config.augment, key))(value)}))
        else:
            number = float(value)
            config = replace(config, **{key: int(number) if number.is_integer() and key in (
                "batch", "size", "threads", "patience") else number})

    def show(progress):
        if progress.phase != "train":
            print(f"  step {progress.step}/{progress.total_steps} {progress.elapsed_s:.0f} s "
                  f"val mIoU {progress.val_miou} best {progress.best_miou}", flush=True)

    result = Trainer(subset(whole, rest), out / "tile.pt", config, on_progress=show).run()
    card, _ = read_model_file(out / "tile.pt")
    torch.set_num_threads(card.training["threads"])  # the count the run found faster here
    test_figures = measure(out / "tile.pt", subset(whole, test))
    report = {"config": config.to_dict(), "naive": args.naive, "read_dataset_s": read_s,
              "steps": result.steps, "seconds": result.seconds, "reason": result.reason,
              "best_step": result.best_step, "val": result.validation,
              "test": test_figures, "training": card.training,
              "load": os.getloadavg()}
    print(json.dumps(report, indent=1, default=str))
    (out / "report.json").write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
