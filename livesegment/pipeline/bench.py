"""``livesegment bench``: what the pipeline costs on top of its model, measured in one run.

Reports (all from the same process, so ratios are meaningful on a noisy machine):
* model-only throughput: the network alone on a ready input tensor of the same size, with as
  many frames in flight as the pipeline keeps (the pipeline's ceiling), and one frame at a time;
* pipeline throughput: decode -> preprocess -> infer -> upsample/colour/blend -> encode, with
  this project's threads and vectorised maths, with the chosen mask smoothing and refinement
  and, in the same rounds, with both off (their cost as a ratio);
* for a fused model (espnetv2-voc-fused), the original network it builds on, alone and in the
  pipeline with smoothing and refinement off: what the default costs against the original;
* a naive sequential loop of the same steps (per-class Python loops, full-resolution logits,
  no overlap) as the baseline;
* mean and p95 of each stage; live capture-to-display latency against its bound; RSS.
"""

from __future__ import annotations

import itertools
import os
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from livesegment.core.models.device import encoder_threads, offline_streams
from livesegment.core.compose.overlay import OverlayStyle
from livesegment.core.models.fused import FusedPerson
from livesegment.core.models.zoo import get_spec
from livesegment.core.masks.preprocess import to_model_input
from livesegment.core.segmenter import Segmenter, sync_clock
from livesegment.core.masks.smoothing import (
    DEFAULT_LOOKAHEAD, MASKS_OFF, MaskOptions, TemporalSmoother,
)
from livesegment.io.live_source import SyntheticSource
from livesegment.io.video import VideoFileSink, VideoFileSource
from livesegment.pipeline.live import LivePipeline
from livesegment.pipeline.offline import run_offline
from livesegment.pipeline.stats import StageTimes


def rss_mb() -> float:
    """Resident memory of this process now (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def synthetic_clip(path: Path, frames: int, width: int = 1280, height: int = 720,
                   fps: int = 30) -> Path:
    """A 720p test clip (moving shapes), made before timing starts."""
    sink = VideoFileSink(path, width, height, Fraction(1, fps), Fraction(fps))
    source = SyntheticSource(width, height)
    for i in range(frames):
        sink.write(source.picture(i), i / fps)
    sink.finish()
    return path


def model_only_fps(seg: Segmenter, height: int, width: int, frames: int,
                   streams: int = 1) -> float:
    """The network alone on a prepared input, ``streams`` frames at once (one thread each):
    the ceiling for a pipeline that keeps as many frames in flight."""
    bgr = torch.zeros((height, width, 3), dtype=torch.uint8, device=seg.device)
    x = to_model_input(bgr, seg.input_size(height, width), seg.spec.mean, seg.spec.std,
                       seg.dtype)
    x = x.contiguous(memory_format=torch.channels_last)

    def loop(count: int) -> None:
        for _ in range(count):
            seg.logits(x)

    loop(3)
    sync_clock(seg.device)
    per_stream = max(1, frames // streams)
    threads = [threading.Thread(target=loop, args=(per_stream,)) for _ in range(streams)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sync_clock(seg.device)
    return per_stream * streams / (time.perf_counter() - start)


def pipeline_run(seg: Segmenter, style: OverlayStyle, clip: Path, out: Path, frames: int,
                 streams: int = 1, masks: MaskOptions = MASKS_OFF):
    """This project's offline pipeline on ``frames`` frames of ``clip``."""
    reader = VideoFileSource(clip)
    sink = VideoFileSink.matching(reader, out, threads=encoder_threads(seg.device))
    result = run_offline(itertools.islice(reader.frames(), frames),
                         [s.infer for s in seg.replicas(streams)],
                         lambda r: seg.compose(r, style, masks.refine),
                         lambda c: sink.write(c.image, c.frame.pts_s),
                         window=TemporalSmoother(masks.smoothing, DEFAULT_LOOKAHEAD))
    sink.finish()
    reader.close()
    return result


def naive_fps(seg: Segmenter, style: OverlayStyle, clip: Path, out: Path, frames: int) -> float:
    """One thread, one step after another, as a first version would be written."""
    reader = VideoFileSource(clip)
    sink = VideoFileSink.matching(reader, out)
    mean = torch.tensor(seg.spec.mean).view(3, 1, 1)
    std = torch.tensor(seg.spec.std).view(3, 1, 1)
    palette = seg.spec.palette
    start = time.perf_counter()
    count = 0
    with torch.inference_mode():
        for frame in itertools.islice(reader.frames(), frames):
            bgr = frame.bgr
            h, w = bgr.shape[:2]
            ih, iw = seg.input_size(h, w)
            rgb = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (iw, ih))
            x = ((torch.from_numpy(rgb).permute(2, 0, 1).float() / 255 - mean) / std)[None]
            logits = seg.model(x.to(seg.device, seg.dtype)).float()
            labels = F.interpolate(logits, (h, w), mode="bilinear").argmax(1)[0].cpu().numpy()
            out_img = bgr.copy()
            for cls in style.painted():
                mask = labels == cls
                colour = palette[cls][::-1].astype(np.float32)
                out_img[mask] = (out_img[mask] * (1 - style.opacity) +
                                 colour * style.opacity).astype(np.uint8)
            sink.write(out_img, frame.pts_s)
            count += 1
    elapsed = time.perf_counter() - start
    sink.finish()
    reader.close()
    return count / elapsed


DISPLAY_HZ = 60.0  # how often the live benchmarks take the newest frame, as the window paints


def live_latency(seg: Segmenter, style: OverlayStyle, width: int, height: int,
                 fps: float = 30.0, seconds: float = 5.0, display_hz: float = DISPLAY_HZ,
                 masks: MaskOptions = MASKS_OFF, workers: int | None = None,
                 threads: int | None = None, pace: str = "newest",
                 settle_s: float = 0.0) -> dict:
    """A synthetic camera through the live pipeline, polled like the window does.

    Each shown frame's age is checked against its own bound: its processing time plus one
    capture interval (the most it can wait for the model) plus one display tick. The mean
    bound (mean inference period + interval + tick) is reported too, for the readout. At the
    camera's pace the mask's age (how much older the mask's frame is) is reported as well.
    ``settle_s`` runs the pipeline that long before measuring (graph build, first frames)."""
    pipe = LivePipeline(seg, style, masks=masks, workers=workers, threads=threads, pace=pace)
    pipe.set_source(SyntheticSource(width, height, fps=fps))
    settle_end = time.monotonic() + settle_s
    while time.monotonic() < settle_end:
        pipe.take_latest()
        time.sleep(1 / display_hz)
    dropped_before, late_before = pipe.frames.dropped, pipe.inferences.late
    ages, mask_ages, excess, seen = [], [], [], set()
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        shown = pipe.take_latest()
        if shown is not None and shown.frame.index not in seen:
            seen.add(shown.frame.index)
            age = time.monotonic() - shown.frame.captured_at
            ages.append(age * 1e3)
            mask_ages.append((age + shown.mask_age_s) * 1e3)
            own_bound = sum(shown.timings.values()) + 1 / fps + 1 / display_hz
            excess.append((age - own_bound) * 1e3)
        time.sleep(1 / display_hz)
    elapsed = time.monotonic() - start
    stats = pipe.stats()
    pipe.stop()
    skip = 0 if settle_s else 2  # without a settle, the first frames are start-up
    ages_arr = np.asarray(ages[skip:] or [0.0])
    mask_arr = np.asarray(mask_ages[skip:] or [0.0])
    over = [e for e in excess[skip:] if e > 0]
    period = 1e3 / stats.inference_fps if stats.inference_fps else float("inf")
    return {"camera_fps": fps, "pace": pace, "workers": stats.workers,
            "threads_per_worker": pipe.threads_per_worker,
            "shown": len(seen), "display_fps": len(seen) / elapsed,
            "dropped": stats.dropped - dropped_before, "late": pipe.inferences.late - late_before,
            "inference_fps": stats.inference_fps, "latency_mean_ms": float(ages_arr.mean()),
            "latency_p50_ms": float(np.percentile(ages_arr, 50)),
            "latency_p95_ms": float(np.percentile(ages_arr, 95)),
            "latency_max_ms": float(ages_arr.max()),
            "mask_age_p50_ms": float(np.percentile(mask_arr, 50)),
            "mask_age_p95_ms": float(np.percentile(mask_arr, 95)),
            "bound_ms": period + 1e3 / fps + 1e3 / display_hz,
            "over_own_bound": len(over), "worst_excess_ms": max(over, default=0.0)}


def live_modes(seg: Segmenter, style: OverlayStyle, width: int, height: int, seconds: float,
               masks: MaskOptions, workers: int | None, threads: int | None,
               one_at_a_time_fps: float) -> dict:
    """Live mode as configured (``live``), the same with one worker when it has more
    (``live_one_worker``: the before/after of the workers), and at the camera's pace
    (``live_camera_pace``), one after another on the same synthetic camera."""
    run = dict(seg=seg, style=style, width=width, height=height, seconds=seconds, masks=masks,
               threads=threads, settle_s=min(2.0, seconds))
    live = live_latency(**run, workers=workers)
    # The issue's bound: one frame's inference period alone + a capture interval + a tick.
    live["bound_single_frame_ms"] = (1e3 / one_at_a_time_fps + 1e3 / live["camera_fps"]
                                     + 1e3 / DISPLAY_HZ)
    report = {"live": live}
    if live["workers"] > 1:
        report["live_one_worker"] = live_latency(**run, workers=1)
    report["live_camera_pace"] = live_latency(**run, workers=workers, pace="camera")
    return report


def run_bench(source: Path | None, model: str, device: str, size: int | None,
              weights: Path | None, frames: int, live_seconds: float = 5.0,
              backend: str = "torch", rounds: int = 3, masks: MaskOptions = MASKS_OFF,
              workers: int | None = None, threads: int | None = None) -> dict:
    """Every figure, from rounds that each measure the model, the pipeline and the naive loop
    back to back. A shared machine's speed drifts by tens of percent within a minute, so the
    ratios are the medians of each round's ratios, not ratios of figures taken far apart."""
    rss_start = rss_mb()
    seg = Segmenter.create(model, device, size, weights, backend)
    style = seg.default_style()
    streams = offline_streams(seg.device)
    per_round, stages = [], StageTimes()
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(source) if source else synthetic_clip(Path(tmp) / "synthetic.mp4", frames)
        probe = VideoFileSource(clip)
        width, height = probe.width, probe.height
        probe.close()
        seg.warm_up(height, width)
        original = original_segmenter(seg)
        for _ in range(rounds):
            serial = model_only_fps(seg, height, width, frames)
            result = pipeline_run(seg, style, clip, Path(tmp) / "pipeline.mp4", frames, streams,
                                  masks)
            stages.merge(result.stages)
            plain = {}
            if masks != MASKS_OFF:  # the same pipeline with smoothing and refinement off
                off = pipeline_run(seg, style, clip, Path(tmp) / "plain.mp4", frames, streams)
                plain = {"pipeline_masks_off": off.frames / off.elapsed_s}
            if original is not None:  # the network the fused model builds on, on its own
                alone = pipeline_run(original, style, clip, Path(tmp) / "original.mp4",
                                     frames, streams)
                plain["pipeline_original_masks_off"] = alone.frames / alone.elapsed_s
                plain["model_only_original"] = model_only_fps(original, height, width,
                                                              frames, streams)
            per_round.append({
                "model_only_one_at_a_time": serial,
                "model_only": (model_only_fps(seg, height, width, frames, streams)
                               if streams > 1 else serial),
                "pipeline": result.frames / result.elapsed_s,
                "naive": naive_fps(seg, style, clip, Path(tmp) / "naive.mp4", frames),
                **plain,
            })
    def median(key: Callable[[dict], float]) -> float:
        return statistics.median(key(r) for r in per_round)

    live = live_modes(seg, style, width, height, live_seconds, masks, workers, threads,
                      median(lambda r: r["model_only_one_at_a_time"]))

    return {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                    "device": _device_name(seg.device)},
        "config": {"model": seg.spec.name, "size": seg.size, "source": str(source or
                   "synthetic 1280x720"), "frames": result.frames, "rounds": rounds,
                   "source_size": [width, height],
                   "input_size": list(seg.input_size(height, width)), "dtype": str(seg.dtype),
                   "backend": backend, "frames_in_flight": streams,
                   "smoothing": masks.smoothing, "refine": masks.refine},
        "throughput_fps": {k: median(lambda r, k=k: r[k]) for k in per_round[0]},
        "ratios": {
            "pipeline_vs_model": median(lambda r: r["pipeline"] / r["model_only"]),
            "pipeline_vs_model_one_at_a_time":
                median(lambda r: r["pipeline"] / r["model_only_one_at_a_time"]),
            "pipeline_vs_naive": median(lambda r: r["pipeline"] / r["naive"]),
            **({"masks_on_vs_off": median(lambda r: r["pipeline"] / r["pipeline_masks_off"])}
               if masks != MASKS_OFF else {}),
            **({"pipeline_vs_original_masks_off": median(
                    lambda r: r["pipeline"] / r["pipeline_original_masks_off"]),
                "pipeline_vs_original_model": median(
                    lambda r: r["pipeline"] / r["model_only_original"])}
               if original is not None else {}),
        },
        "rounds_fps": per_round,
        "stages_ms": stages.summary(),
        **live,
        "rss_mb": {"start": rss_start, "end": rss_mb()},
    }


def original_segmenter(seg: Segmenter) -> Segmenter | None:
    """For a fused model, its main network as a segmenter of its own (sharing the loaded
    network and its graphs): the original model the default is measured against."""
    if not isinstance(seg.model, FusedPerson):
        return None
    spec = get_spec(seg.spec.name.removesuffix("-fused"))
    return Segmenter(spec, seg.model.main, seg.device, seg.size)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()})"


def _in_flight(n: int) -> str:
    return f"{n} frame{'s' if n > 1 else ''} in flight"


def _masks_lines(r: dict) -> list[str]:
    """The smoothing/refinement cost rows (absent when the run had both off)."""
    t, c, ratios = r["throughput_fps"], r["config"], r["ratios"]
    lines = []
    if "pipeline_masks_off" in t:
        lines += [f"{'pipeline, smoothing + refinement off':<44}{t['pipeline_masks_off']:>8.1f}"
                  f"{t['pipeline_masks_off'] / t['model_only']:>10.2f}",
                  f"pipeline with smoothing {c['smoothing']:g} and refinement "
                  f"{'on' if c['refine'] else 'off'}: {ratios['masks_on_vs_off']:.2f}x the fps "
                  "with both off (median of each round's ratio)"]
    if "pipeline_original_masks_off" in t:
        lines += [f"{'original network alone (model only)':<44}{t['model_only_original']:>8.1f}"
                  f"{t['model_only_original'] / t['model_only']:>10.2f}",
                  f"{'original network, pipeline, both off':<44}"
                  f"{t['pipeline_original_masks_off']:>8.1f}"
                  f"{t['pipeline_original_masks_off'] / t['model_only']:>10.2f}",
                  f"this pipeline is {ratios['pipeline_vs_original_masks_off']:.2f}x the original"
                  " network's pipeline with both off"]
    return lines


def _live_row(name: str, live: dict) -> str:
    return (f"{name:<28}{live['workers']:>3}{live['inference_fps']:>8.1f}"
            f"{live['display_fps']:>9.1f}{live['latency_p50_ms']:>8.0f}"
            f"{live['latency_p95_ms']:>8.0f}{live['mask_age_p95_ms']:>10.0f}"
            f"{live['dropped']:>8}{live.get('late', 0):>6}")


def _live_lines(r: dict) -> list[str]:
    """The live rows: as configured, with one worker (before the workers), camera pace."""
    live = r["live"]
    lines = [f"live, synthetic {live['camera_fps']:g} fps camera, newest frame wins unless "
             "camera pace",
             f"{'':<28}{'wk':>3}{'model':>8}{'display':>9}{'p50 ms':>8}{'p95 ms':>8}"
             f"{'mask p95':>10}{'dropped':>8}{'late':>6}",
             _live_row("live (newest result)", live)]
    if "live_one_worker" in r:
        lines.append(_live_row("live, one worker", r["live_one_worker"]))
    if "live_camera_pace" in r:
        lines.append(_live_row("live at the camera's pace", r["live_camera_pace"]))
    lines += [
        f"  bound for the newest result: {live.get('bound_single_frame_ms', 0):.0f} ms (one "
        "frame's inference alone + capture interval + display tick); frames older than their "
        f"own bound: {live.get('over_own_bound', 0)} of {live['shown']}"
        + (f", worst by {live['worst_excess_ms']:.0f} ms" if live.get("over_own_bound") else "")]
    return lines


def format_table(r: dict) -> str:
    t, m, c, live = r["throughput_fps"], r["machine"], r["config"], r["live"]
    n, serial = c.get("frames_in_flight", 1), t.get("model_only_one_at_a_time", 0.0)
    lines = [
        f"livesegment bench: {c['model']} @ {c['size']} (input {c['input_size'][1]}x"
        f"{c['input_size'][0]}), source {c['source']} {c['source_size'][0]}x"
        f"{c['source_size'][1]}, {c['frames']} frames",
        f"machine: {m['device']}, {m['cpus']} cpus, torch {m['torch']} "
        f"({m['torch_threads']} threads), {c['dtype']}, backend {c.get('backend', 'torch')}",
        f"figures are medians of {c.get('rounds', 1)} rounds, each running the model, the "
        "pipeline and the naive loop back to back; ratios are medians of each round's ratio",
        "",
        f"{'throughput':<44}{'fps':>8}{'vs model':>10}",
        f"{'model only, ' + _in_flight(n):<44}{t['model_only']:>8.1f}{1.0:>10.2f}",
        *([f"{'model only, 1 frame at a time':<44}{serial:>8.1f}"
           f"{serial / t['model_only']:>10.2f}"] if n > 1 else []),
        f"{'pipeline (end to end), ' + _in_flight(n):<44}{t['pipeline']:>8.1f}"
        f"{t['pipeline'] / t['model_only']:>10.2f}",
        f"{'naive sequential loop':<44}{t['naive']:>8.1f}{t['naive'] / t['model_only']:>10.2f}",
        *_masks_lines(r),
        f"pipeline is {r['ratios']['pipeline_vs_naive']:.2f}x the naive loop"
        + (f" and {r['ratios']['pipeline_vs_model_one_at_a_time']:.2f}x the model run one "
           "frame at a time" if n > 1 else ""),
        "",
        f"{'stage':<44}{'mean ms':>8}{'p95 ms':>10}",
    ]
    for name, s in r["stages_ms"].items():
        lines.append(f"{name:<44}{s['mean_ms']:>8.1f}{s['p95_ms']:>10.1f}")
    lines += ["", *_live_lines(r)]
    lines += [
        f"memory: RSS {r['rss_mb']['start']:.0f} MB at start, {r['rss_mb']['end']:.0f} MB at end",
    ]
    return "\n".join(lines)
