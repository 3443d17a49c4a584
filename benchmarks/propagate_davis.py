"""Masks that follow through a video on DAVIS 2016: the first frame's human mask carried
through the rest of each sequence, flow alone (the classical baseline) beside flow plus
re-prompting (livesegment.propagate), mean IoU over frames 1..N and milliseconds per frame.

    python benchmarks/propagate_davis.py [--data ../shared/datasets/davis-2016] [--limit N]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np

from livesegment.core.select.tracking import THRESHOLD, track
from livesegment.core.select.protocol import iou

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def sequence(root: Path, name: str, limit: int | None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A sequence's frames (BGR) and human masks (bool)."""
    pictures = sorted((root / "JPEGImages" / "480p" / name).glob("*.jpg"))[:limit]
    frames = [cv2.imread(str(p)) for p in pictures]
    masks = [cv2.imread(str(root / "Annotations" / "480p" / name / f"{p.stem}.png"),
                        cv2.IMREAD_GRAYSCALE) > 127 for p in pictures]
    return frames, masks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "datasets" / "davis-2016")
    parser.add_argument("--limit", type=int, default=None, help="first N frames of each")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    names = sorted(p.name for p in (args.data / "JPEGImages" / "480p").iterdir())
    print(f"load average before: {os.getloadavg()}")
    rows = []
    for name in names:
        frames, truth = sequence(args.data, name, args.limit)
        row = [name, len(frames)]
        for refine in (False, True):
            start = time.perf_counter()
            result = track(frames, truth[0], refine=refine)
            ms = 1000 * (time.perf_counter() - start) / max(1, len(frames) - 1)
            valid = np.ones(truth[0].shape, bool)
            scores = [iou(m, t, valid) for m, t in zip(result.masks[1:], truth[1:])]
            flagged = result.needs_look
            wrong = sum(s < 0.5 for s in scores)
            row += [float(np.mean(scores)), ms, len(flagged), wrong]
        rows.append(row)
        print(f"{name:12s} {row[1]:4d} frames  flow {row[2]:.3f} ({row[3]:.0f} ms/frame)  "
              f"ours {row[6]:.3f} ({row[7]:.0f} ms/frame, {row[8]} flagged "
              f"< {THRESHOLD}, {row[9]} frames IoU < 0.5)", flush=True)
    flow, ours = np.mean([r[2] for r in rows]), np.mean([r[6] for r in rows])
    print(f"mean IoU: flow {flow:.3f} ({np.mean([r[3] for r in rows]):.0f} ms/frame), "
          f"ours {ours:.3f} ({np.mean([r[7] for r in rows]):.0f} ms/frame)")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
