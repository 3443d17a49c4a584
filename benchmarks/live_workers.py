"""Live mode's pace on the CPU: one vs several model workers, torch threads per worker, the
camera-pace display, with and without another process burning a core. Configurations run in
interleaved rounds in one process, so their ratios hold on a machine whose speed drifts.

    python benchmarks/live_workers.py --configs 1x2,2x1,2x2 --rounds 3 --seconds 8
    python benchmarks/live_workers.py --configs 1x2,2x1 --load   # one core kept busy
    python benchmarks/live_workers.py --startup --configs 1x0,2x1  # first overlay, cold
    python benchmarks/live_workers.py --auto 40 --fps 30           # where "auto" size settles

A config ``WxT`` is W workers with T torch threads each (T=0: torch's default); a ``c``
suffix runs it at the camera's pace.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import time

from livesegment.cli.allocator import keep_freed_memory
from livesegment.core.segmenter import Segmenter
from livesegment.core.masks.smoothing import MASKS_OFF, MaskOptions
from livesegment.io.live_source import SyntheticSource
from livesegment.pipeline.live import LivePipeline
from livesegment.pipeline.bench import live_latency, model_only_fps


def burn(stop) -> None:
    """One core's worth of pure-Python work, as another busy program would take."""
    x = 0
    while not stop.is_set():
        for i in range(100_000):
            x += i * i


def parse(config: str) -> tuple[int, int | None, str]:
    pace = "camera" if config.endswith("c") else "newest"
    workers, threads = config.rstrip("c").split("x")
    return int(workers), int(threads) or None, pace


def auto_run(args) -> dict:
    """The default live pipeline with "auto" size on a synthetic 720p camera: each change of
    size with its time, then the model's and display's rates over the last 10 seconds."""
    seg = Segmenter.create(args.model, "cpu", args.size, backend=args.backend)
    start = time.monotonic()
    changes: list[str] = []
    masks = MaskOptions(0.9, True) if args.masks else MASKS_OFF
    pipe = LivePipeline(seg, seg.default_style(), masks=masks, auto_size=True,
                        on_notice=lambda m: changes.append(f"{time.monotonic() - start:5.1f} s "
                                                           f"{m}"))
    pipe.set_source(SyntheticSource(1280, 720, fps=args.fps))
    time.sleep(max(0.0, args.auto - 10))
    shown_before = pipe.display_rate.rate()
    time.sleep(min(10.0, args.auto))
    stats = pipe.stats()
    pipe.stop()
    return {"camera_fps": args.fps, "changes": changes, "final_size": stats.size,
            "last_10_s": {"inference_fps": round(stats.inference_fps, 1),
                          "display_fps": round(stats.display_fps, 1),
                          "display_fps_10_s_before_end": round(shown_before, 1)}}


def startup(args) -> dict:
    """Seconds from the source's start to the first composed frame, each run with a freshly
    loaded model (its graph for 720p not built yet), configs interleaved."""
    times: dict[str, list[float]] = {c: [] for c in args.configs.split(",")}
    for _ in range(args.rounds):
        for config, got in times.items():
            workers, threads, pace = parse(config)
            seg = Segmenter.create(args.model, "cpu", args.size, backend=args.backend)
            pipe = LivePipeline(seg, seg.default_style(), workers=workers, threads=threads,
                                pace=pace)
            start = time.monotonic()
            pipe.set_source(SyntheticSource(1280, 720, fps=args.fps))
            while pipe.latest() is None:
                time.sleep(0.005)
            got.append(round(time.monotonic() - start, 2))
            pipe.stop()
    return {"first_overlay_s": times}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="espnetv2-voc")
    p.add_argument("--size", type=int)
    p.add_argument("--backend", default="torch")
    p.add_argument("--configs", default="1x0,2x1,2x0")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--masks", action="store_true", help="default smoothing and refinement")
    p.add_argument("--load", action="store_true", help="another process burns one core")
    p.add_argument("--startup", action="store_true",
                   help="time from a new session's start to its first overlay, cold model")
    p.add_argument("--auto", type=float, metavar="SECONDS",
                   help="run --size auto this long and report the sizes it chose")
    args = p.parse_args()
    keep_freed_memory()
    if args.auto:
        print(json.dumps(auto_run(args), indent=1))
        return
    if args.startup:
        print(json.dumps(startup(args), indent=1))
        return
    seg = Segmenter.create(args.model, "cpu", args.size, backend=args.backend)
    seg.warm_up(720, 1280)
    masks = MaskOptions(0.9, True) if args.masks else MASKS_OFF
    stop = multiprocessing.Event()
    burner = multiprocessing.Process(target=burn, args=(stop,), daemon=True)
    if args.load:
        burner.start()
    runs: dict[str, list[dict]] = {c: [] for c in args.configs.split(",")}
    models = []
    for _ in range(args.rounds):
        models.append({"one_at_a_time": model_only_fps(seg, 720, 1280, 40),
                       "two_in_flight": model_only_fps(seg, 720, 1280, 40, streams=2)})
        for config, results in runs.items():
            workers, threads, pace = parse(config)
            results.append(live_latency(seg, seg.default_style(), 1280, 720, args.fps,
                                        args.seconds, masks=masks, workers=workers,
                                        threads=threads, pace=pace, settle_s=2.0))
    stop.set()
    if args.load:
        burner.join()
    keys = ("inference_fps", "display_fps", "latency_p50_ms", "latency_p95_ms",
            "latency_max_ms", "mask_age_p95_ms", "dropped", "late", "over_own_bound")
    report = {"model": seg.spec.name, "size": seg.size, "backend": args.backend,
              "load": args.load, "masks": args.masks,
              "model_only_fps": {k: [round(m[k], 1) for m in models] for k in models[0]},
              "configs": {c: {k: [round(r[k], 1) for r in rs] for k in keys}
                          for c, rs in runs.items()}}
    base = next(iter(runs.values()))
    report["inference_vs_first_config"] = {
        c: round(statistics.median(r["inference_fps"] / b["inference_fps"]
                                   for r, b in zip(rs, base)), 2) for c, rs in runs.items()}
    report["inference_vs_two_in_flight"] = {
        c: round(statistics.median(r["inference_fps"] / m["two_in_flight"]
                                   for r, m in zip(rs, models)), 2) for c, rs in runs.items()}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
