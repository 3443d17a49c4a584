"""Portrait models against espnetv2-voc: model-only CPU speed (interleaved, as ratios) and person
agreement (IoU) on the shared head-and-shoulders footage.

    python benchmarks/portrait_models.py [--rounds 5] [--frames 20] [--json out.json]
                                         [--contact-sheet sheet.png]

Speed: each round runs every (model, backend) on a prepared 1280x720 input for ``--frames``
frames, one after another, so background load hits them alike; the table gives the median
frames/s and the median of the per-round ratios to espnetv2-voc at its default size (256).
The torch backend uses the frozen CPU graph the product uses (built before timing).

Person IoU: there is no ground truth for this footage. The reference is espnetv2-voc at size
384 (its person class), as issue 15 asks; the figure is agreement between two models, not
accuracy. The pairwise IoU between the portrait models is printed too, and ``--contact-sheet``
writes the masks of a few frames side by side for checking by eye.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

from livesegment.core.frames import Frame
from livesegment.core.segmenter import Segmenter
from livesegment.pipeline.bench import model_only_fps

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
HEAD_GIF = SHARED / "media" / "head-pose-face-detection-female-and-male.gif"
ONE_BY_ONE = SHARED / "media" / "one-by-one-person-detection.mp4"
REFERENCE = ("espnetv2-voc", 384)
# (model, size): size None = the model's default. Portrait models at their defaults.
CANDIDATES = (("espnetv2-voc", None), ("espnetv2-voc", 384), ("mediapipe-selfie", None),
              ("mediapipe-selfie-landscape", None), ("sinet-portrait", None))
BASELINE = ("espnetv2-voc", "torch", None)


def decode(path: Path, step: int = 1, limit: int | None = None) -> list[np.ndarray]:
    import av

    out = []
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % step == 0:
                out.append(frame.to_ndarray(format="bgr24"))
            if limit and len(out) >= limit:
                break
    return out


def person_masks(seg: Segmenter, frames: list[np.ndarray]) -> np.ndarray:
    person = seg.spec.class_id("person")
    style = seg.default_style()
    return np.stack([seg.process(Frame(i, 0.0, bgr), style).labels == person
                     for i, bgr in enumerate(frames)])


def iou(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(pooled IoU over all frames, mean of per-frame IoU over frames where either has people)."""
    inter = (a & b).sum(axis=(1, 2))
    union = (a | b).sum(axis=(1, 2))
    pooled = float(inter.sum() / max(union.sum(), 1))
    per_frame = [i / u for i, u in zip(inter, union) if u > 0]
    return pooled, float(np.mean(per_frame)) if per_frame else float("nan")


def speed(rounds: int, frames: int) -> list[dict]:
    segs = {}
    for name, size in CANDIDATES:
        for backend in ("torch", "onnxruntime"):
            seg = Segmenter.create(name, "cpu", size=size, backend=backend)
            seg.warm_up(720, 1280, wait=True)
            segs[(name, backend, size)] = seg
    runs: dict[tuple, list[float]] = {k: [] for k in segs}
    ratios: dict[tuple, list[float]] = {k: [] for k in segs}
    for r in range(rounds):
        order = list(segs) if r % 2 == 0 else list(reversed(segs))
        this = {k: model_only_fps(segs[k], 720, 1280, frames) for k in order}
        for k, fps in this.items():
            runs[k].append(fps)
            ratios[k].append(fps / this[BASELINE])
        print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    rows = []
    for (name, backend, size), seg in segs.items():
        rows.append({"model": name, "backend": backend, "size": seg.size,
                     "input": "x".join(map(str, seg.input_size(720, 1280))),
                     "fps": statistics.median(runs[(name, backend, size)]),
                     "ratio": statistics.median(ratios[(name, backend, size)])})
    return rows


def agreement(footage: Path, step: int, limit: int | None) -> dict:
    frames = decode(footage, step, limit)
    masks = {}
    for name, size in CANDIDATES:
        seg = Segmenter.create(name, "cpu", size=size)
        masks[f"{name}@{seg.size}"] = person_masks(seg, frames)
    ref_key = f"{REFERENCE[0]}@{REFERENCE[1]}"
    table = {}
    for key, m in masks.items():
        table[key] = {other: iou(m, masks[other]) for other in masks}
        table[key]["person_share"] = float(m.mean())
    return {"frames": len(frames), "reference": ref_key, "iou": table, "masks": masks}


def contact_sheet(footage: Path, result: dict, out: Path, indices=(0, 20, 40)) -> None:
    import cv2

    frames = decode(footage)
    rows = []
    for i in indices:
        tiles = [frames[i]]
        for key, masks in result["masks"].items():
            tile = frames[i].copy()
            tile[~masks[i]] //= 4
            cv2.putText(tile, key, (5, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 255), 2)
            tiles.append(tile)
        rows.append(np.concatenate(tiles, 1))
    sheet = np.concatenate(rows, 0)
    cv2.imwrite(str(out), cv2.resize(sheet, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--json")
    p.add_argument("--contact-sheet")
    p.add_argument("--skip-speed", action="store_true")
    args = p.parse_args()
    torch.manual_seed(0)
    report: dict = {"threads": torch.get_num_threads()}

    head = agreement(HEAD_GIF, 1, None)
    if args.contact_sheet:
        contact_sheet(HEAD_GIF, head, Path(args.contact_sheet))
    side = agreement(ONE_BY_ONE, 100, None)
    for title, res in (("head-and-shoulders GIF", head), ("one-by-one mp4, every 100th", side)):
        ref = res["reference"]
        print(f"\nPerson IoU vs {ref}, {title} ({res['frames']} frames): pooled / per-frame mean")
        for key, row in res["iou"].items():
            pooled, mean = row[ref]
            sel = row.get("mediapipe-selfie@256", (float("nan"),) * 2)
            print(f"  {key:32} {pooled:.3f} / {mean:.3f}   vs mediapipe-selfie {sel[0]:.3f}"
                  f"   person share {row['person_share']:.3f}")
        res.pop("masks")
    report["iou_head_gif"] = head
    report["iou_one_by_one"] = side

    if not args.skip_speed:
        rows = speed(args.rounds, args.frames)
        print(f"\nModel-only CPU speed, 1280x720 frames, {report['threads']} threads, "
              f"median of {args.rounds} interleaved rounds")
        for row in rows:
            print(f"  {row['model']:28} {row['backend']:12} input {row['input']:8} "
                  f"{row['fps']:7.1f} fps  x{row['ratio']:.2f} vs espnetv2-voc@256 torch")
        report["speed"] = rows
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
