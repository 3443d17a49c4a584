"""Click to segment on a labelled folder: NoC@85 / NoC@90 of our selector beside plain
GrabCut in one run, and the time per click on 720p pictures.

    python benchmarks/click_benchmark.py [--data ../shared/datasets/grabcut] [--ignore 128]
        [--limit 10] [--engines ours,ours-fast,colour,grabcut,grabcut-full] [--timing 10]

The protocol is livesegment.evaluate_clicks: each next click at the centre of the largest
wrong region (include for a miss, exclude for a false area), at most 20, the previous answer
handed back each time. Engines: ``ours`` (Selector with the default model's classes),
``ours-fast`` (the same on a 200 px copy with one GrabCut pass instead of two),
``colour`` (Selector without a model: the class cue left out), ``grabcut`` (plain GrabCut,
the clicks as seeds and the previous mask as probable object, on the same small copy),
``grabcut-full`` (plain GrabCut on the full picture: slow, left out of the 720p timing).
``--timing N`` reruns the first N pictures scaled to 1280x720 and reports each engine's
milliseconds per click (mean, p95); the model's per-picture work (set_image) is outside the
timing, as the issue asks.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from livesegment.api import evaluate_clicks, read_dataset
from livesegment.core.select import ClickScores, PlainGrabCut, Selector, score_clicks
from livesegment.core.select.grabcut import WORK_SIDE
from livesegment.io.datasets import IGNORE

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
HD = (1280, 720)
FAST_SIDE = 200  # ours-fast: a smaller copy and one GrabCut pass


def engine(name: str, side: int):
    if name == "ours":
        return Selector(side=side)
    if name == "ours-fast":
        return Selector(side=FAST_SIDE, iterations=1)
    if name == "colour":
        return Selector(None, side=side)
    if name == "grabcut":
        return PlainGrabCut(side)
    if name == "grabcut-full":
        return PlainGrabCut(0)
    raise SystemExit(f"unknown engine {name!r}")


def hd_pictures(dataset, count: int):
    """The first ``count`` pictures and their masks stretched to 1280x720."""
    for index in range(min(count, len(dataset))):
        sample = dataset[index]
        labels = cv2.resize(sample.labels, HD, interpolation=cv2.INTER_NEAREST)
        valid = labels != IGNORE
        yield sample.name, cv2.resize(sample.image, HD, interpolation=cv2.INTER_LINEAR), \
            valid & (labels != dataset.background), valid


def row(name: str, scores: ClickScores) -> str:
    return (f"| {name} | {len(scores.traces)} | {scores.noc(0.85):.2f} | {scores.noc(0.90):.2f} "
            f"| {scores.failures(0.90)} | {1000 * scores.seconds.mean():.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "datasets" / "grabcut")
    parser.add_argument("--ignore", type=int, nargs="*", default=[128])
    parser.add_argument("--limit", type=int)
    parser.add_argument("--engines", default="ours,colour,grabcut")
    parser.add_argument("--timing", type=int, default=10, help="720p pictures timed (0: none)")
    parser.add_argument("--side", type=int, default=WORK_SIDE)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    dataset = read_dataset(args.data, ignore=args.ignore)
    names = args.engines.split(",")
    engines = {name: engine(name, args.side) for name in names}
    print("| engine | pictures | NoC@85 | NoC@90 | never 0.90 | ms per click (as they are) |")
    print("|---|---|---|---|---|---|")
    results = {}
    for name, selector in engines.items():
        start = time.perf_counter()
        results[name] = evaluate_clicks(selector, dataset, limit=args.limit)
        print(row(name, results[name]), f"({time.perf_counter() - start:.0f} s)", flush=True)
    if "grabcut" in results and len(names) > 1:
        base = results["grabcut"].noc(0.90)
        for name, scores in results.items():
            print(f"{name}: NoC@90 {scores.noc(0.90) / base:.2f}x plain GrabCut's")
    if args.timing:
        print(f"\ntime per click at 1280x720, first {args.timing} pictures:")
        for name, selector in engines.items():
            if name == "grabcut-full":  # seconds a click at 720p: minutes for its ~20 clicks
                continue
            seconds = score_clicks(selector, hd_pictures(dataset, args.timing)).seconds * 1000
            print(f"{name}: {len(seconds)} clicks, mean {seconds.mean():.0f} ms, "
                  f"p95 {np.percentile(seconds, 95):.0f} ms, max {seconds.max():.0f} ms",
                  flush=True)


if __name__ == "__main__":
    main()
