"""``livesegment eval MODEL DATA``: a model's figures on a labelled folder.

The dataset's pre-flight report comes first (stderr), then a progress bar, then the per-class
table (stdout); ``--json``/``--csv`` and the two pictures are written at the end. The measuring
is pipeline/validate.py's, the files io/eval_report.py's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from livesegment.cli.options import add_model_options, add_tile_option, number, positive_int
from livesegment.cli.signals import StopOnSignal
from livesegment.errors import OutputError

EVAL_EXAMPLES = """\
data: a folder of images + masks (images/ and masks/, any usual names, splits
  as subfolders), a PASCAL VOC or CVAT "Segmentation mask" export, COCO JSON,
  YOLO-seg (data.yaml) or LabelMe JSON files, found by looking. Class names
  come from the dataset (classes.txt, labelmap.txt, categories, names) or
  --classes. 0/255 masks are binary (255 = class 1); with named classes 255 is
  "ignore".
classes: matched by name between the dataset and the model; --map pairs
  others, and every other model class counts as the dataset's background.

examples:
  livesegment eval mediapipe-selfie photos/
  livesegment eval espnetv2-voc photos/ --map human=person --json eval.json
  livesegment eval espnetv2-voc street/ --map vehicle=car+bus+motorbike \\
      --csv figures.csv --confusion confusion.png --worst worst.png
"""
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
OUTPUTS = (("json", (".json",)), ("csv", (".csv",)), ("confusion", PICTURE_SUFFIXES),
           ("worst", PICTURE_SUFFIXES))


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    e = sub.add_parser("eval", parents=[common], help="measure a model on labelled pictures",
                       description="Per-class IoU, Dice, precision, recall, boundary F, "
                       "'contains the class' precision/recall, confusion matrix and speed "
                       "of MODEL on the labelled pictures in DATA.", epilog=EVAL_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_options(e, positional=True)
    e.add_argument("data", type=Path, metavar="DATA", help="dataset folder (or COCO .json, "
                   "YOLO data.yaml)")
    e.add_argument("--map", metavar="D=M[+M],...", help="dataset class = model class(es), "
                   "e.g. human=person or vehicle=car+bus (default: same names)")
    e.add_argument("--refine", action=argparse.BooleanOptionalAction, default=False,
                   help="snap mask edges to the picture's edges, as process does (default off:"
                   " the network's own labels)")
    add_tile_option(e)
    e.add_argument("--split", help="only this split of the dataset (train, val, ...)")
    e.add_argument("--classes", help="the dataset's class names, comma-separated, where it "
                   "has no classes.txt (background first)")
    e.add_argument("--ignore", type=values, default=(), metavar="V[,V]",
                   help="mask values to leave out, e.g. 128 for GrabCut's uncertain band")
    e.add_argument("--json", type=Path, metavar="FILE", help="write every figure as JSON")
    e.add_argument("--csv", type=Path, metavar="FILE", help="write the per-class table as CSV")
    e.add_argument("--confusion", type=Path, metavar="FILE.png",
                   help="write the confusion matrix as a picture")
    e.add_argument("--worst", type=Path, metavar="FILE.png",
                   help="write the worst pictures with their errors painted in")
    e.add_argument("--worst-count", type=positive_int, default=8, metavar="N",
                   help="pictures in --worst (default 8)")
    e.add_argument("--tolerance", type=number, default=2.0, metavar="PX",
                   help="boundary F: how far a predicted edge may be from the true one "
                   "(default 2 px)")
    e.add_argument("--min-area", type=positive_int, default=1, metavar="PX",
                   help="'contains the class': predicted pixels a picture needs to count as "
                   "having it (default 1)")
    e.add_argument("--quiet", action="store_true", help="no progress bar")


def values(text: str) -> tuple[int, ...]:
    try:
        out = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not mask values such as 128") from None
    if not out or not all(0 <= v <= 65535 for v in out):
        raise argparse.ArgumentTypeError(f"'{text}' is not mask values such as 128")
    return out


def check_outputs(args: argparse.Namespace) -> None:
    """Refused before any work: a wrong suffix, a folder, two options naming one file, or a
    file inside the dataset (it is never written to)."""
    from livesegment.io.paths import check_output

    data = args.data.resolve()
    data = data.parent if data.is_file() else data
    taken: dict[Path, str] = {}
    for option, suffixes in OUTPUTS:
        path = getattr(args, option)
        if path is None:
            continue
        if path.suffix.lower() not in suffixes:
            raise OutputError(f"--{option} {path}: give a {' or '.join(suffixes)} file")
        where = path.resolve()
        if where.is_relative_to(data):
            raise OutputError(f"--{option} {path} is inside the dataset {args.data}; write it "
                              "elsewhere (a dataset is only read)")
        if where in taken:
            raise OutputError(f"--{taken[where]} and --{option} are the same file {path}")
        taken[where] = option
        check_output(path)


def run(args: argparse.Namespace) -> int:
    from livesegment.cli.progress import ProgressBar
    from livesegment.core.segmenter import Segmenter
    from livesegment.io.datasets import open_dataset
    from livesegment.pipeline.validate import Validator, parse_map

    pairs = parse_map(args.map)
    check_outputs(args)
    classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
    dataset = open_dataset(args.data, classes, args.ignore, strict=False)
    print("\n".join(dataset.report.lines()), file=sys.stderr)
    dataset.report.check()
    if args.split is not None:
        dataset = dataset.subset(args.split)
    segmenter = Segmenter.create(args.model, args.device, args.size, args.weights, args.backend)
    validator = Validator(segmenter, dataset, pairs, refine=args.refine,
                          tolerance=args.tolerance, min_pixels=args.min_area,
                          keep_worst=args.worst_count, tile=args.tile)
    bar = ProgressBar(enabled=not args.quiet, label="eval")
    with StopOnSignal() as signals:
        try:
            result = validator.run(bar.update_pictures, signals.stop)
        finally:
            bar.close()
    print(format_table(result))
    write_outputs(args, result)
    return signals.exit_code if result.interrupted else 0


def write_outputs(args: argparse.Namespace, result) -> None:
    from livesegment.io import eval_report

    writers = {"json": eval_report.write_json, "csv": eval_report.write_csv,
               "confusion": eval_report.write_confusion_picture,
               "worst": eval_report.write_worst_grid}
    for option, _ in OUTPUTS:
        path = getattr(args, option)
        if path is not None:
            print(f"wrote {writers[option](result, path)}", file=sys.stderr)


def shown(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def format_table(result) -> str:
    """The figures as a table: a row per class, a mean row, then the whole-run figures."""
    from livesegment.core.metrics import mean

    s = result.scores
    head = ("class", "IoU", "Dice", "precision", "recall", "boundary F", "has it: P",
            "has it: R")
    columns = (s.iou, s.dice, s.precision, s.recall, s.boundary_f, s.image_precision,
               s.image_recall)
    rows = [head] + [(name, *(shown(c[i]) for c in columns))
                     for i, name in enumerate(s.classes)]
    rows.append(("mean", *(shown(mean(c)) for c in columns)))
    width = max(len(r[0]) for r in rows)
    lines = [f"{r[0]:<{width}}  " + "  ".join(f"{v:>10}" for v in r[1:]) for r in rows]
    fps = f"{result.fps:.1f} pictures/s" if result.fps else "-"
    state = " (interrupted)" if result.interrupted else ""
    how = ", tiled" if result.tile else ", refined" if result.refine else ""
    lines.insert(0, f"{result.model}, size {result.size}{how}"
                    f", on {s.pictures} pictures{state}: {fps} (model time)")
    lines.append(f"mIoU {shown(s.miou)} (without background {shown(s.foreground_miou)}), "
                 f"pixel accuracy {shown(s.pixel_accuracy)}, mean boundary F "
                 f"{shown(s.mean_boundary_f)} at {s.tolerance:g} px")
    pairs = ", ".join(f"{d}={'+'.join(m)}" for d, m in result.mapping.pairs)
    lines.append(f"classes: {pairs}; every other model class is background")
    if result.mapping.unpredicted:
        lines.append(f"not predicted by the model: {', '.join(result.mapping.unpredicted)}")
    return "\n".join(lines)
