"""Compositing time of each effect on a 720p frame (BENCHMARKS.md, "Effects").

A frame of the shared head-and-shoulders footage, enlarged to 1280x720, with espnetv2-voc's
person labels. Rounds interleave the effects (a shared machine's speed drifts), each figure is
the median over rounds of the mean time per frame. Optional: ``--live`` also runs the live
pipeline at 720p/30 fps with the overlay and with blur, interleaved.

    python benchmarks/effects_720p.py [--rounds 7] [--frames 30] [--live 8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from livesegment.core.compose.effects import (
    AlphaEffect, BlurEffect, Chain, Matte, OverlayEffect, ReplaceEffect, StillBackdrop, render,
    solid,
)
from livesegment.core.frames import Frame
from livesegment.core.segmenter import Segmenter
from livesegment.io.backgrounds import VideoBackdrop

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "media"
GIF = SHARED / "head-pose-face-detection-female-and-male.gif"
BACKGROUND_VIDEO = SHARED / "one-by-one-person-detection.mp4"


def frame_and_labels(seg: Segmenter) -> tuple[np.ndarray, np.ndarray]:
    with av.open(str(GIF)) as c:
        small = next(c.decode(video=0)).to_ndarray(format="bgr24")
    bgr = cv2.resize(small, (1280, 720), interpolation=cv2.INTER_CUBIC)
    labels = seg.process(Frame(0, 0.0, bgr), seg.default_style()).labels
    return bgr, labels


def looks(seg: Segmenter, bgr: np.ndarray) -> dict:
    spec = seg.spec
    person = frozenset({spec.class_id("person")})
    hard = Matte.for_classes(spec.num_classes, spec.background, person)
    soft = Matte.for_classes(spec.num_classes, spec.background, person, feather=6)
    style = seg.default_style()
    picture = cv2.resize(bgr, (640, 480))[::-1].copy()
    return {
        "overlay (today's blend)": style,
        "blur 15 px": BlurEffect(hard, 15.0),
        "blur 15 px, feather 6": BlurEffect(soft, 15.0),
        "blur 40 px": BlurEffect(hard, 40.0),
        "replace, picture": ReplaceEffect(hard, StillBackdrop(picture)),
        "replace, picture, feather 6": ReplaceEffect(soft, StillBackdrop(picture)),
        "color (green screen)": ReplaceEffect(hard, solid((64, 177, 0))),
        "alpha": AlphaEffect(hard),
        "alpha, feather 6": AlphaEffect(soft),
        "blur + overlay": Chain((BlurEffect(hard, 15.0), OverlayEffect(style))),
        "replace, 10 fps video (decode+scale incl.)": ReplaceEffect(
            hard, VideoBackdrop(BACKGROUND_VIDEO)),
    }


def time_effects(seg: Segmenter, rounds: int, frames: int) -> dict[str, float]:
    bgr, labels = frame_and_labels(seg)
    pixels, label_t = torch.from_numpy(bgr), torch.from_numpy(labels)
    table = looks(seg, bgr)
    samples: dict[str, list[float]] = {k: [] for k in table}
    clock = 0.0
    for _ in range(rounds):
        for name, look in table.items():
            render(look, pixels, label_t, clock)  # warm (caches, first decode)
            t0 = time.perf_counter()
            for i in range(frames):
                clock += 1 / 30
                render(look, pixels, label_t, clock)
            samples[name].append((time.perf_counter() - t0) / frames * 1e3)
    return {k: statistics.median(v) for k, v in samples.items()} | {
        "person share": float((labels == seg.spec.class_id("person")).mean())}


def live(seg: Segmenter, seconds: float, rounds: int = 2) -> dict:
    from livesegment.pipeline.bench import live_latency

    spec = seg.spec
    blur = BlurEffect(Matte.for_classes(spec.num_classes, spec.background,
                                        {spec.class_id("person")}), 15.0)
    out: dict[str, list[dict]] = {"overlay": [], "blur": []}
    for _ in range(rounds):
        out["overlay"].append(live_latency(seg, seg.default_style(), 1280, 720, 30.0, seconds))
        out["blur"].append(live_latency(seg, blur, 1280, 720, 30.0, seconds))
    return {k: {"inference_fps": statistics.median(r["inference_fps"] for r in v),
                "latency_mean_ms": statistics.median(r["latency_mean_ms"] for r in v)}
            for k, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--live", type=float, default=0.0, help="seconds per live run (0: skip)")
    args = p.parse_args()
    seg = Segmenter.create("espnetv2-voc", "cpu")
    report = {"threads": torch.get_num_threads(), "cv2_threads": cv2.getNumThreads(),
              "ms_per_720p_frame": time_effects(seg, args.rounds, args.frames)}
    if args.live:
        report["live_720p_30fps"] = live(seg, args.live)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
