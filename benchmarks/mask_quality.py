"""Stable, sharp masks: flicker, agreement, edge strength, boundary agreement and cost.

    python benchmarks/mask_quality.py [--frames N] [--part flicker|edges|cost|all]

Measures what issue 14 asks for (results in BENCHMARKS.md, "Stable, sharp masks"):

* flicker that matters: the share of pixels whose label flips between consecutive frames where
  the picture itself stands still (grey change below 3 levels after a 5x5 mean, and no motion
  within 7 px), on static-camera footage, per smoothing strength, live (past only) and
  offline (look-ahead); and how many pixels keep the unsmoothed label;
* edges: the mean picture-gradient magnitude under mask boundaries relative to the frame's
  mean, refined against unrefined; boundary agreement (F1 within 2 px) with the same model at
  twice the inference size;
* cost: the labels step per 720p frame with and without refinement, interleaved.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from livesegment.cli.allocator import keep_freed_memory
from livesegment.core.frames import Frame, Inference
from livesegment.core.segmenter import Segmenter, mask_labels
from livesegment.core.masks.smoothing import DEFAULT_LOOKAHEAD, DEFAULT_SMOOTHING, TemporalSmoother

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
STATIC = ("head-pose-face-detection-female-and-male.gif", "one-by-one-person-detection.mp4")
EDGE_CLIPS = (*STATIC, "people_walking_720p.avi")


def read_frames(path: Path, limit: int, step: int = 1) -> list[Frame]:
    frames = []
    with av.open(str(path)) as container:
        for i, f in enumerate(container.decode(video=0)):
            if len(frames) >= limit:
                break
            if i % step == 0:
                frames.append(Frame(i, float(f.time or 0.0), f.to_ndarray(format="bgr24")))
    return frames


def grey(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)


def still_masks(frames: list[Frame]) -> list[np.ndarray]:
    """Per consecutive pair: True where the picture stands still (see the module docstring)."""
    masks = []
    for a, b in zip(frames, frames[1:]):
        change = cv2.blur(np.abs(grey(b.bgr) - grey(a.bgr)), (5, 5))
        moving = cv2.dilate((change > 3).astype(np.uint8), np.ones((15, 15), np.uint8))
        masks.append(moving == 0)
    return masks


def labels_for(results: list[Inference], strength: float, lookahead: int,
               refine: bool) -> list[np.ndarray]:
    smoother = TemporalSmoother(strength, lookahead)
    ready = []
    for r in results:
        ready += smoother.push(r)
    ready += smoother.flush()
    assert [r.frame.index for r in ready] == [r.frame.index for r in results]
    return [mask_labels(r, refine).numpy() for r in ready]


def flicker(labels: list[np.ndarray], still: list[np.ndarray]) -> float:
    flips = sum(int(((a != b) & s).sum()) for a, b, s in zip(labels, labels[1:], still))
    return flips / max(1, sum(int(s.sum()) for s in still))


def agreement(labels: list[np.ndarray], reference: list[np.ndarray]) -> float:
    return float(np.mean([(a == b).mean() for a, b in zip(labels, reference)]))


def part_flicker(seg: Segmenter, frames_limit: int) -> None:
    print("## flicker where the picture stands still (share of still pixels flipping per "
          "frame), and agreement with --smoothing 0")
    for name in STATIC:
        frames = read_frames(MEDIA / name, frames_limit)
        results = [seg.infer(f) for f in frames]
        still = still_masks(frames)
        share = np.mean([s.mean() for s in still])
        print(f"\n{name}: {len(frames)} frames {frames[0].bgr.shape[1]}x"
              f"{frames[0].bgr.shape[0]}, still share {share:.1%}")
        for refine in (False, True):
            base = labels_for(results, 0.0, 0, refine)
            f0 = flicker(base, still)
            print(f"  refine {'on ' if refine else 'off'}  smoothing 0: flicker {f0:.4%}")
            for strength in (0.5, 0.8, 0.9):
                for mode, ahead in (("live", 0), ("offline", DEFAULT_LOOKAHEAD)):
                    lab = labels_for(results, strength, ahead, refine)
                    f = flicker(lab, still)
                    print(f"    {strength:.1f} {mode:<8} flicker {f:.4%} ({f / f0:.2f}x)  "
                          f"agree {agreement(lab, base):.2%}")


def gradient(bgr: np.ndarray) -> np.ndarray:
    g = grey(bgr)
    return cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))


def boundary(labels: np.ndarray) -> np.ndarray:
    b = np.zeros(labels.shape, bool)
    b[:, :-1] |= labels[:, 1:] != labels[:, :-1]
    b[:-1, :] |= labels[1:, :] != labels[:-1, :]
    return b


def boundary_f1(test: np.ndarray, ref: np.ndarray, tolerance: int = 2) -> float:
    bt, br = boundary(test), boundary(ref)
    if not bt.any() or not br.any():
        return float(bt.any() == br.any())
    kernel = np.ones((2 * tolerance + 1,) * 2, np.uint8)
    near_r = cv2.dilate(br.astype(np.uint8), kernel) > 0
    near_t = cv2.dilate(bt.astype(np.uint8), kernel) > 0
    precision, recall = (bt & near_r).sum() / bt.sum(), (br & near_t).sum() / br.sum()
    return float(2 * precision * recall / max(1e-9, precision + recall))


def part_edges(seg: Segmenter, frames_limit: int) -> None:
    print("\n## edges: gradient under boundaries / frame mean; boundary F1 (2 px) against "
          f"the same model at size {2 * seg.size}")
    big = seg.with_size(2 * seg.size)
    for name in EDGE_CLIPS:
        frames = read_frames(MEDIA / name, frames_limit, step=4)
        rows = {"off": [], "on": []}
        for f in frames:
            result = seg.infer(f)
            grad = gradient(f.bgr)
            reference = mask_labels(big.infer(f), False).numpy()
            for key, refine in (("off", False), ("on", True)):
                lab = mask_labels(result, refine).numpy()
                b = boundary(lab)
                if not b.any():
                    continue
                rows[key].append((grad[b].mean() / grad.mean(), boundary_f1(lab, reference),
                                  (lab == reference).mean()))
        off, on = (np.array(rows[k]) for k in ("off", "on"))
        print(f"{name} ({len(frames)} frames): edge strength off {off[:, 0].mean():.2f}, "
              f"on {on[:, 0].mean():.2f} ({on[:, 0].mean() / off[:, 0].mean():.2f}x); "
              f"boundary F1 vs 2x size off {off[:, 1].mean():.3f}, on {on[:, 1].mean():.3f}; "
              f"pixel agreement vs 2x off {off[:, 2].mean():.2%}, on {on[:, 2].mean():.2%}")


def part_cost(seg: Segmenter, rounds: int = 5) -> None:
    print("\n## cost of the labels step per 720p frame (people_walking_720p.avi), "
          f"torch threads {torch.get_num_threads()}, interleaved, median of {rounds} rounds")
    frames = read_frames(MEDIA / "people_walking_720p.avi", 40, step=8)
    results = [seg.infer(f) for f in frames]
    smoother = TemporalSmoother(DEFAULT_SMOOTHING)
    steps = {
        "exact labels (refine off)": lambda r: mask_labels(r, False),
        "refined labels": lambda r: mask_labels(r, True),
        "smoothing step (live)": lambda r: smoother.push(r),
        "smoothed + refined": lambda r: mask_labels(smoother.push(r)[0], True),
    }
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(rounds):
        for key, fn in steps.items():
            t0 = time.perf_counter()
            for r in results:
                fn(r)
            times[key].append((time.perf_counter() - t0) / len(results) * 1e3)
    base = statistics.median(times["exact labels (refine off)"])
    for key, values in times.items():
        m = statistics.median(values)
        print(f"  {key:<28} {m:6.2f} ms  ({m / base:.2f}x exact)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--part", default="all", choices=("flicker", "edges", "cost", "all"))
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: as torch sets)")
    args = p.parse_args(argv)
    keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    seg = Segmenter.create("espnetv2-voc", "cpu")
    print(f"espnetv2-voc @ {seg.size} on the CPU")
    with torch.inference_mode():
        if args.part in ("flicker", "all"):
            part_flicker(seg, args.frames)
        if args.part in ("edges", "all"):
            part_edges(seg, args.frames)
        if args.part in ("cost", "all"):
            part_cost(seg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
