"""``livesegment bench``: model-only, pipeline and naive throughput, and live latency
(the measuring is pipeline/bench.py's; this is its command line)."""

from __future__ import annotations

import argparse
from pathlib import Path

from livesegment.cli.options import (
    add_model_options, add_smoothing_options, add_worker_options, mask_options, number,
    positive_int,
)


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    b = sub.add_parser("bench", parents=[common],
                       help="measure model-only, pipeline and naive throughput")
    b.add_argument("--source", type=Path, help="video to read (default: a synthetic 720p clip)")
    add_model_options(b)
    b.add_argument("--frames", type=positive_int, default=60,
                   help="frames per measurement in each round (default 60)")
    b.add_argument("--rounds", type=positive_int, default=3,
                   help="rounds of model/pipeline/naive runs; figures are medians (default 3)")
    b.add_argument("--live-seconds", type=number, default=5.0,
                   help="how long to run the live-latency part (default 5)")
    b.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_smoothing_options(b)
    add_worker_options(b)


def run(args: argparse.Namespace) -> int:
    from livesegment.pipeline.bench import format_table, run_bench

    report = run_bench(args.source, args.model, args.device, args.size, args.weights,
                       args.frames, args.live_seconds, args.backend, args.rounds,
                       mask_options(args), args.workers, args.threads)
    if args.json:
        import json

        print(json.dumps(report, indent=2))
    else:
        print(format_table(report))
    return 0
