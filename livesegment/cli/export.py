"""``livesegment export MODEL -o model.onnx``: a model (a trained file or a bundled one) as a
standalone ONNX graph, checked against torch (the work is pipeline/export.py's)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from livesegment.cli.options import positive_int
from livesegment.errors import InputError


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    e = sub.add_parser("export", parents=[common], help="write a model as an ONNX graph",
                       description="Write a model (a file made by 'livesegment train', or a "
                       "model name) as an ONNX graph for one input size, checked against "
                       "torch. The graph takes a normalised 1x3xHxW picture and gives logits "
                       "at that size; its metadata holds the classes, colours and mean/std.")
    e.add_argument("model", metavar="MODEL", help="model file or name")
    e.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.onnx")
    e.add_argument("--size", type=positive_int, help="input height (and width, unless "
                   "--width): default the model's own size")
    e.add_argument("--width", type=positive_int, help="input width (default: --size)")
    e.add_argument("--overwrite", action="store_true", help="replace an existing FILE")


def run(args: argparse.Namespace) -> int:
    from livesegment.pipeline.export import export_onnx

    if args.output.exists() and not args.overwrite:
        raise InputError(f"{args.output} exists; --overwrite replaces it")
    if args.output.suffix.lower() != ".onnx":
        raise InputError(f"-o {args.output}: the file name must end in .onnx")
    report = export_onnx(args.model, args.output, args.size, args.width)
    shape = "x".join(str(v) for v in report.input_shape)
    out = "x".join(str(v) for v in report.output_shape)
    print(f"wrote {report.output}: input {shape}, logits {out}; ONNX Runtime vs torch: "
          f"max |diff| {report.max_abs_diff:.2g} ({report.relative_diff:.1e} of the largest "
          f"logit), {report.agreement:.2%} of pixels agree ({report.seconds:.0f} s)",
          file=sys.stderr)
    return 0
