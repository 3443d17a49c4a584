"""Live 720p at a camera's pace with a background effect: how many of the camera's frames the
live pipeline composes and shows.

A synthetic 1280x720 camera at 30 fps feeds :class:`LivePipeline` (newest frame wins) with the
given model and effect; the newest composed frame is taken at 60 Hz, as the window does.

    python benchmarks/live_effect.py --model mediapipe-selfie-landscape --effect blur
"""

from __future__ import annotations

import argparse
import json
import time

from livesegment.core.compose.effects import BlurEffect, Matte, ReplaceEffect, parse_colour, solid
from livesegment.core.compose.overlay import OverlayStyle
from livesegment.core.segmenter import Segmenter
from livesegment.core.masks.smoothing import MaskOptions
from livesegment.io.live_source import SyntheticSource
from livesegment.pipeline.live import LivePipeline
from livesegment.pipeline.stats import RateMeter


def effect(name: str, spec):
    person = frozenset({spec.class_id("person")})
    if name == "overlay":
        return OverlayStyle(spec.palette, spec.background, 0.5, person)
    matte = Matte.for_classes(spec.num_classes, spec.background, person, feather=3)
    if name == "blur":
        return BlurEffect(matte, 15.0)
    return ReplaceEffect(matte, solid(parse_colour("#00b140")))


def run(model: str, name: str, seconds: float, masks: MaskOptions) -> dict:
    seg = Segmenter.create(model, "cpu")
    seg.warm_up(720, 1280)
    pipeline = LivePipeline(seg, effect(name, seg.spec), masks=masks)
    pipeline.set_source(SyntheticSource(1280, 720, fps=30.0))
    shown, ages = RateMeter(window_s=seconds), []
    time.sleep(2.0)  # settle: the first frames
    end = time.monotonic() + seconds
    count = 0
    while time.monotonic() < end:
        composed = pipeline.take_latest()
        if composed is not None:
            count += 1
            shown.tick()
            ages.append((time.monotonic() - composed.frame.captured_at) * 1e3)
        time.sleep(1 / 60)
    stats = pipeline.stats()
    pipeline.stop()
    ages.sort()
    return {"model": model, "effect": name, "smoothing": masks.smoothing,
            "refine": masks.refine, "camera_fps": round(stats.capture_fps, 1),
            "shown_fps": round(count / seconds, 1),
            "latency_p50_ms": round(ages[len(ages) // 2], 1) if ages else None,
            "latency_p95_ms": round(ages[int(len(ages) * 0.95)], 1) if ages else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mediapipe-selfie-landscape")
    ap.add_argument("--effects", default="overlay,blur,color")
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    for masks in (MaskOptions(0.0, False), MaskOptions()):
        for name in args.effects.split(","):
            print(json.dumps(run(args.model, name, args.seconds, masks)), flush=True)


if __name__ == "__main__":
    main()
