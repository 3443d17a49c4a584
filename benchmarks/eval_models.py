"""Bundled models on a labelled dataset in one table: person IoU and friends, with speed.

    python benchmarks/eval_models.py [--data ../shared/datasets/ccp-person] [--threads 1]
        [--models espnetv2-voc,espnetv2-voc@384,mediapipe-selfie] [--refine] [--out DIR]
        [--preflight ../shared/datasets/magnetic-tile ...]

Each model runs through the same :class:`~livesegment.pipeline.validate.Validator` the ``eval``
command uses, classes mapped by name (espnetv2-voc's ``person`` onto the dataset's, every
other VOC class onto background). fps is model time only (preprocess, network, labels at the
picture's resolution), the first picture left out as warm-up; pictures are read from disk
outside the timing. ``--out`` writes each model's JSON, confusion matrix and worst pictures.
``--preflight`` prints the dataset reader's report for other datasets (no model run).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from livesegment.core.segmenter import Segmenter
from livesegment.io.datasets import open_dataset
from livesegment.io.eval_report import write_confusion_picture, write_json, write_worst_grid
from livesegment.pipeline.validate import Validator

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MODELS = "espnetv2-voc,espnetv2-voc@384,mediapipe-selfie,mediapipe-selfie-landscape,sinet-portrait"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "datasets" / "ccp-person")
    parser.add_argument("--models", default=MODELS, help="name[@size],... ")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--refine", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--preflight", type=Path, nargs="*", default=[])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for folder in args.preflight:
        print("\n".join(open_dataset(folder, strict=False).report.lines()), "\n")
    dataset = open_dataset(args.data)
    print("\n".join(dataset.report.lines()), "\n")
    print("| model | size | refine | person IoU | mIoU | pixel acc. | person P / R | "
          "boundary F (person) | fps |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for entry in args.models.split(","):
        name, _, size = entry.partition("@")
        segmenter = Segmenter.create(name, "cpu", int(size) if size else None)
        result = Validator(segmenter, dataset, refine=args.refine).run()
        s = result.scores
        person = s.classes.index("person")
        print(f"| {name} | {result.size} | {'yes' if args.refine else 'no'} | "
              f"{s.iou[person]:.4f} | {s.miou:.4f} | {s.pixel_accuracy:.4f} | "
              f"{s.precision[person]:.3f} / {s.recall[person]:.3f} | "
              f"{s.boundary_f[person]:.3f} | {result.fps:.1f} |", flush=True)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            stem = f"{name}-{result.size}{'-refine' if args.refine else ''}"
            write_json(result, args.out / f"{stem}.json")
            write_confusion_picture(result, args.out / f"{stem}-confusion.png")
            write_worst_grid(result, args.out / f"{stem}-worst.png")


if __name__ == "__main__":
    main()
