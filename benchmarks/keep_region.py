"""What a clicked region kept in front costs in live mode, on DAVIS 2016 sequences enlarged to
720p (their object stands for "the guitar": the human mask of each frame is the truth).

1. The compose stage (``--sequence``'s first frame): ms per 720p frame of each effect without
   a kept region and with one (``keep_region`` on the look plus the effect, as the live
   composer does each frame).
2. The regions' own thread, on every sequence: the object clicked at its deepest point on the
   first frame, then followed over the next ``--frames``: ms a step and mean IoU against the
   human masks, for carrying the selected mask (optical flow + re-cut) on copies of 480, 320
   and 240 px or on the 720p frame, or selecting afresh each frame at the first click's point
   (the click does not move with the object). The first selection's IoU and time too.
3. ``--live S``: the live pipeline (espnetv2-voc, blur, camera pace, the sequence looped as a
   30 fps camera), S seconds without and S seconds with the region kept: display rate,
   paint time, capture-to-display latency, the model's rate and the regions' steps a second.

Rounds interleave the variants; each figure is the median over rounds. Ratios come from one
run (a shared machine's speed drifts between runs).

    python benchmarks/keep_region.py [--sequence camel] [--frames 25] [--rounds 5] [--live 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from livesegment.core.compose.effects import (
    BlurEffect, Matte, ReplaceEffect, keep_region, render, solid,
)
from livesegment.core.frames import Frame
from livesegment.core.segmenter import Segmenter
from livesegment.core.select.grabcut import shrink
from livesegment.core.select.protocol import iou
from livesegment.core.select.selector import Selector
from livesegment.core.select.tracking import Appearance, carry
from livesegment.pipeline.kept_regions import WORK_SIDE, KeptRegions, union_at
from livesegment.pipeline.live import LivePipeline

DAVIS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "davis-2016"
SIZE = (1280, 720)
EVERYWHERE = np.ones(SIZE[::-1], bool)  # DAVIS marks no uncertain band: every pixel counts
SIDES = (480, 320, 240)  # long sides of the copy the regions' thread may work on


def sequence(name: str, count: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The first ``count`` frames at 720p and their human masks (bool, 720p)."""
    pictures = sorted((DAVIS / "JPEGImages" / "480p" / name).glob("*.jpg"))[:count]
    frames = [cv2.resize(cv2.imread(str(p)), SIZE, interpolation=cv2.INTER_CUBIC)
              for p in pictures]
    masks = [cv2.resize(cv2.imread(str(DAVIS / "Annotations" / "480p" / name / f"{p.stem}.png"),
                                   cv2.IMREAD_GRAYSCALE), SIZE) > 127 for p in pictures]
    return frames, masks


def deepest(mask: np.ndarray) -> tuple[int, int]:
    """The point inside ``mask`` farthest from its edge: where a user would click."""
    distance = cv2.distanceTransform(mask.view(np.uint8), cv2.DIST_L2, 5)
    y, x = np.unravel_index(int(distance.argmax()), mask.shape)
    return int(x), int(y)


def compose_costs(seg: Segmenter, bgr: np.ndarray, region: np.ndarray, rounds: int,
                  frames: int) -> dict[str, dict[str, float]]:
    spec = seg.spec
    labels = seg.process(Frame(0, 0.0, bgr), seg.default_style()).labels
    person = frozenset({spec.class_id("person")})
    hard = Matte.for_classes(spec.num_classes, spec.background, person)
    soft = Matte.for_classes(spec.num_classes, spec.background, person, feather=6)
    looks = {"blur 15 px": BlurEffect(hard, 15.0), "blur 15 px, feather 6": BlurEffect(soft, 15.0),
             "colour (green screen)": ReplaceEffect(hard, solid((64, 177, 0)))}
    pixels, label_t = torch.from_numpy(bgr), torch.from_numpy(labels)
    samples: dict[tuple[str, bool], list[float]] = {}
    for _ in range(rounds):
        for name, look in looks.items():
            for with_region in (False, True):
                render(keep_region(look, region if with_region else None), pixels, label_t)
                t0 = time.perf_counter()
                for _ in range(frames):
                    render(keep_region(look, region if with_region else None), pixels, label_t)
                ms = (time.perf_counter() - t0) / frames * 1e3
                samples.setdefault((name, with_region), []).append(ms)
    out = {}
    for name in looks:
        without = statistics.median(samples[(name, False)])
        with_ = statistics.median(samples[(name, True)])
        out[name] = {"without_ms": round(without, 2), "with_region_ms": round(with_, 2),
                     "ratio": round(with_ / without, 3)}
    return out


def _selected(picture: np.ndarray, point: tuple[int, int], side: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """The selector's answer to one click, on a copy of ``picture`` whose long side is
    ``side``: that copy and the mask on it."""
    small, scale = shrink(picture, side)
    selector = Selector(None)
    selector.set_image(small)
    return small, selector.predict([(point[0] * scale, point[1] * scale, True)])


def _carried(frames: list[np.ndarray], truth: list[np.ndarray], point: tuple[int, int],
             side: int) -> tuple[list[float], list[float]]:
    """ms and IoU (at 720p) of each frame after the first: the click's mask carried along."""
    small, mask = _selected(frames[0], point, side)
    looks, times, scores = Appearance(small, mask), [], []
    for picture, human in zip(frames[1:], truth[1:]):
        t0 = time.perf_counter()
        now = shrink(picture, side)[0]
        mask, _ = carry(small, now, mask, looks)
        full = union_at((mask,), picture.shape[:2]) == 255
        times.append(time.perf_counter() - t0)
        scores.append(iou(full, human, EVERYWHERE))
        small = now
    return times, scores


def _reselected(frames: list[np.ndarray], truth: list[np.ndarray], point: tuple[int, int],
                side: int) -> tuple[list[float], list[float]]:
    """The same, selecting afresh on each frame at the first click's point."""
    times, scores = [], []
    for picture, human in zip(frames[1:], truth[1:]):
        t0 = time.perf_counter()
        _, mask = _selected(picture, point, side)
        full = union_at((mask,), picture.shape[:2]) == 255
        times.append(time.perf_counter() - t0)
        scores.append(iou(full, human, EVERYWHERE))
    return times, scores


def follow_costs(sequences: dict[str, tuple[list[np.ndarray], list[np.ndarray]]]) -> dict:
    """Each way of following the object clicked on frame 0 (at its deepest point) over the
    other frames of every sequence: ms a frame over all frames, IoU averaged per sequence
    then over sequences; and the first selection's own IoU and time."""
    ways = {f"carry, {side} px copy": (_carried, side) for side in SIDES}
    ways["carry, 720p frame"] = (_carried, max(SIZE))
    ways["re-select each frame at the click, 320 px copy"] = (_reselected, 320)
    out: dict[str, dict] = {"ways": {}, "first_selection": {}}
    for name, (way, side) in ways.items():
        times, per_sequence = [], {}
        for sequence_name, (frames, truth) in sequences.items():
            spent, scores = way(frames, truth, deepest(truth[0]), side)
            times += spent
            per_sequence[sequence_name] = round(float(np.mean(scores)), 3)
        out["ways"][name] = {"ms_per_frame": round(statistics.mean(times) * 1e3, 1),
                             "mean_iou": round(float(np.mean(list(per_sequence.values()))), 3),
                             "per_sequence": per_sequence}
    for side in SIDES:
        times, scores = [], {}
        for sequence_name, (frames, truth) in sequences.items():
            t0 = time.perf_counter()
            small, mask = _selected(frames[0], deepest(truth[0]), side)
            times.append(time.perf_counter() - t0)
            full = union_at((mask,), frames[0].shape[:2]) == 255
            scores[sequence_name] = round(iou(full, truth[0], EVERYWHERE), 3)
        out["first_selection"][f"{side} px copy"] = {
            "ms": round(statistics.mean(times) * 1e3, 1),
            "mean_iou": round(float(np.mean(list(scores.values()))), 3), "per_sequence": scores}
    return out


class Looped:
    """The sequence as a 30 fps camera, looped."""

    name, fps = "looped sequence", 30.0

    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames, self.index, self.t0 = frames, 0, time.monotonic()

    def read(self) -> Frame:
        due = self.t0 + self.index / self.fps
        time.sleep(max(0.0, due - time.monotonic()))
        frame = Frame(self.index, self.index / self.fps,
                      self.frames[self.index % len(self.frames)].copy(), time.monotonic())
        self.index += 1
        return frame

    def close(self) -> None:
        pass


def live(seg: Segmenter, frames: list[np.ndarray], truth: list[np.ndarray], seconds: float,
         rounds: int) -> dict:
    spec = seg.spec
    blur = BlurEffect(Matte.for_classes(spec.num_classes, spec.background,
                                        {spec.class_id("person")}), 15.0)
    runs: dict[str, list[dict]] = {"without": [], "with region": []}
    for _ in range(rounds):
        pipe = LivePipeline(seg, blur, pace="camera")
        try:
            _run_live(pipe, frames, truth, seconds, runs)
        finally:
            pipe.stop()
    return {k: {m: round(statistics.median(r[m] for r in v), 2) for m in v[0]}
            for k, v in runs.items()}


def _run_live(pipe: LivePipeline, frames: list[np.ndarray], truth: list[np.ndarray],
              seconds: float, runs: dict[str, list[dict]]) -> None:
    """One round: ``seconds`` without a region, a click on the object, ``seconds`` with it."""
    steps: list[float] = []
    step = pipe.kept.step
    pipe.kept.step = lambda frame: (step(frame), steps.append(time.monotonic()))
    pipe.set_source(Looped(frames))
    deadline = time.monotonic() + 120  # the graph's build for 720p, the first frames
    while pipe.latest() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    runs["without"].append(_measure(pipe, seconds, steps))
    shown = None
    while shown is None:  # the measuring took every frame shown so far: the next one
        shown = pipe.latest()
        time.sleep(0.01)
    pipe.kept.select(shown.frame, *deepest(truth[shown.frame.index % len(frames)]))
    deadline = time.monotonic() + 10
    while pipe.kept.count == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    runs["with region"].append(_measure(pipe, seconds, steps))


def _measure(pipe: LivePipeline, seconds: float, steps: list[float]) -> dict[str, float]:
    seen, paint, ages = set(), [], []
    start = time.monotonic()
    steps_before = len(steps)
    while time.monotonic() - start < seconds:
        shown = pipe.take_latest()
        if shown is not None and shown.frame.index not in seen:
            seen.add(shown.frame.index)
            paint.append(shown.timings.get("paint", 0.0) * 1e3)
            ages.append((time.monotonic() - shown.frame.captured_at) * 1e3)
        time.sleep(1 / 120)
    elapsed = time.monotonic() - start
    return {"display_fps": len(seen) / elapsed, "paint_p50_ms": float(np.median(paint)),
            "latency_p50_ms": float(np.median(ages)),
            "latency_p95_ms": float(np.percentile(ages, 95)),
            "inference_fps": pipe.stats().inference_fps,
            "region_steps_per_s": (len(steps) - steps_before) / elapsed}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sequence", default="camel")
    p.add_argument("--frames", type=int, default=25)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--compose-frames", type=int, default=20)
    p.add_argument("--live", type=float, default=0.0, help="seconds per live run (0: skip)")
    p.add_argument("--live-rounds", type=int, default=3)
    args = p.parse_args()
    names = sorted(p.name for p in (DAVIS / "JPEGImages" / "480p").iterdir())
    sequences = {name: sequence(name, args.frames) for name in names}
    frames, truth = sequences[args.sequence]
    seg = Segmenter.create("espnetv2-voc", "cpu")
    region = truth[0].view(np.uint8) * np.uint8(255)
    report = {"load_average_before": os.getloadavg(), "sequence": args.sequence,
              "region_share": round(float(truth[0].mean()), 3), "work_side": WORK_SIDE}
    parts = {"compose_720p": lambda: compose_costs(seg, frames[0], region, args.rounds,
                                                   args.compose_frames),
             "follow": lambda: follow_costs(sequences)}
    if args.live:
        parts["live_720p_camera_pace_blur"] = lambda: live(seg, frames, truth, args.live,
                                                           args.live_rounds)
    for name, part in parts.items():
        t0 = time.perf_counter()
        report[name] = part()
        print(f"{name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    report["load_average_after"] = os.getloadavg()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
