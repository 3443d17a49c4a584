"""``livesegment train DATA -o FILE``: fine-tune a model on a folder of labelled pictures
(the engine is pipeline/training; this is its command line)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from livesegment.cli.options import positive_int
from livesegment.core.models.catalog import DEFAULT_TRAIN_BASE
from livesegment.errors import InputError

EXAMPLES = """\
examples:
  livesegment train parts/ -o parts.pt --time 10m  # planned for 10 minutes
  livesegment train parts/ -o parts.pt --resume    # continue a stopped run
  livesegment train cells/ -o cells.pt --classes background,membrane --epochs 40
  livesegment train parts/ -o parts.pt --keep-classes  # person, car, ... + yours
  livesegment process line.mp4 -o checked.mp4 --model parts.pt

DATA: image + mask folders (images/ + masks/: class-id, palette or 0/255
masks), PASCAL VOC or CVAT segmentation masks, COCO JSON, YOLO-seg (data.yaml)
or LabelMe JSON. The best model goes to FILE; checkpoints, results.csv and
pictures go to FILE's run folder (parts-run/ for parts.pt).
"""


def duration(text: str) -> float:
    from livesegment.pipeline.training.schedule import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def val_option(text: str) -> float | Path:
    """A share of the pictures (0.2) or a second labelled folder."""
    try:
        share = float(text)
    except ValueError:
        return Path(text)
    if not 0.0 <= share < 1.0:
        raise argparse.ArgumentTypeError(f"--val {share} is not a share in 0..1 (or a folder)")
    return share


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    t = sub.add_parser("train", parents=[common], help="fine-tune a model on labelled pictures",
                       description="Fine-tune a model on your labelled pictures; the result\n"
                       "is one model file that every command takes as --model FILE.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("data", type=Path, metavar="DATA", help="labelled dataset folder")
    t.add_argument("-o", "--output", type=Path, required=True, metavar="FILE",
                   help="the model file to write (e.g. parts.pt)")
    t.add_argument("--time", type=duration, metavar="T",
                   help="time budget the run plans for: 600, 90s, 10m, 1.5h")
    t.add_argument("--epochs", type=positive_int, help="passes over the training pictures "
                   "(default 30 without --time; with --time, an upper bound)")
    t.add_argument("--val", type=val_option, metavar="SHARE|FOLDER",
                   help="pictures to validate on: a share (default 0.2, stratified by class, "
                   "fixed by --seed; a dataset's own val split wins) or a labelled folder")
    t.add_argument("--seed", type=int, default=0, help="makes the split and the run "
                   "repeatable (default 0)")
    t.add_argument("--patience", type=int, default=10, metavar="N",
                   help="stop after N validations without a better mIoU (0: never; default 10)")
    t.add_argument("--size", type=positive_int, help="inference short side the model is "
                   "trained for, a multiple of 32 (default: the pictures' median short side)")
    t.add_argument("--classes", help="class names in id order, where the dataset has none "
                   "(e.g. background,scratch,dent)")
    t.add_argument("--base", default=DEFAULT_TRAIN_BASE, metavar="MODEL",
                   help=f"model to start from (default {DEFAULT_TRAIN_BASE}; a model file "
                   "works)")
    t.add_argument("--keep-classes", action="store_true",
                   help="keep the base model's classes beside yours (espnetv2-voc's 21 + "
                   "yours): the model file runs the base, frozen, beside the fine-tune, so "
                   "'person' still works beside 'scratch' (two network passes a frame)")
    t.add_argument("--batch", type=positive_int, help="pictures per step (default 8)")
    t.add_argument("--threads", type=positive_int, metavar="N",
                   help="torch threads (default: measured; one wins on a busy CPU)")
    t.add_argument("--resume", action="store_true", help="continue FILE's stopped run where "
                   "its last checkpoint left it (its settings are kept)")
    t.add_argument("--overwrite", action="store_true", help="replace an existing FILE")
    t.add_argument("--quiet", action="store_true", help="no report and progress bar")


def run(args: argparse.Namespace) -> int:
    from livesegment.cli.progress import ProgressBar
    from livesegment.cli.signals import StopOnSignal
    from livesegment.pipeline.training import Trainer, TrainConfig, replace_config
    from livesegment.pipeline.training.data import open_training_data

    _check_output(args)
    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    folder = args.val if isinstance(args.val, Path) else None
    data = open_training_data(args.data, classes, folder,
                              on_report=None if args.quiet else _print_report)
    config = replace_config(TrainConfig(base=args.base, seed=args.seed,
                                        patience=args.patience or None,
                                        keep_classes=args.keep_classes),
                            time_s=args.time, epochs=args.epochs, size=args.size,
                            batch=args.batch, threads=args.threads,
                            val_share=None if folder else args.val)
    bar = ProgressBar(enabled=not args.quiet)
    with StopOnSignal() as signals:
        trainer = Trainer(data, args.output, config, on_progress=bar.update_training,
                          stop=signals.stop, resume=args.resume)
        try:
            result = trainer.run()
        finally:
            bar.close()
    _print_result(result, args.output)
    return signals.exit_code if result.reason == "stopped" else 0


def _print_report(report) -> None:
    for line in report.lines():
        print(line, file=sys.stderr)


def _check_output(args: argparse.Namespace) -> None:
    out = args.output
    if out.is_dir():
        raise InputError(f"-o {out} is a folder; give the model file to write (e.g. model.pt)")
    if out.exists() and not (args.overwrite or args.resume):
        raise InputError(f"{out} exists; --overwrite replaces it, --resume continues its run")
    if out.resolve() == args.data.resolve() or args.data.resolve() in out.resolve().parents:
        raise InputError(f"-o {out} is inside the dataset {args.data}; write it elsewhere")


def _print_result(result, output: Path) -> None:
    figures = result.validation
    miou = figures.get("miou")
    why = {"done": "the plan ran out", "patience": "validation mIoU stopped rising",
           "time": "the time budget ran out", "stopped": "interrupted"}[result.reason]
    if not result.best_step:
        print(f"livesegment: {why} at step {result.steps} before the first validation; "
              f"no model written (--resume continues)", file=sys.stderr)
        return
    shown = f"val mIoU {miou:.3f}" if miou is not None else "no validation pictures"
    print(f"wrote {output}: {shown} at step {result.best_step} of {result.steps} "
          f"({why}, {result.seconds:.0f} s); run folder {result.run_dir}", file=sys.stderr)
    if result.reason == "stopped":
        print(f"livesegment: continue with: livesegment train ... -o {output} --resume",
              file=sys.stderr)
