"""``process --ray`` on this machine: files sequentially vs a 2-worker local Ray instance
(started once, its start timed apart), one
long video in chunks vs whole, and a run whose worker is killed mid-file.

Clips are cut (re-encoded, a keyframe every second) from the shared footage, so the figures use
real pictures and the real model (espnetv2-voc on the CPU). Prints one JSON object.

    python benchmarks/ray_cluster.py --files 4 --frames 50 --long-frames 250
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import av

from livesegment.pipeline.cluster import run_on_ray
from livesegment.pipeline.job import process_file
from livesegment.pipeline.jobs import FileJob, JobSettings

FOOTAGE = Path(__file__).resolve().parents[2] / "shared" / "media" / "car-detection.mp4"


@dataclass(frozen=True)
class RecordingPid:
    """The real model, built by a worker that first records its process id (to be killed)."""

    folder: Path

    def __call__(self):
        (self.folder / str(os.getpid())).touch()
        return JobSettings(device="cpu").build()


def cut(source: Path, target: Path, start: int, frames: int) -> None:
    """Frames ``start..start+frames`` of ``source`` re-encoded with a keyframe every 25."""
    with av.open(str(source)) as src, av.open(str(target), "w") as out:
        stream = src.streams.video[0]
        vs = out.add_stream("libx264", rate=stream.average_rate or 25)
        vs.width, vs.height, vs.pix_fmt = stream.width, stream.height, "yuv420p"
        vs.time_base = vs.codec_context.time_base = stream.time_base
        vs.options = {"crf": "18", "preset": "ultrafast", "g": "25", "keyint_min": "25"}
        for i, frame in enumerate(src.decode(stream)):
            if i < start:
                continue
            if i >= start + frames:
                break
            frame.pts -= round(start / float(stream.average_rate) / stream.time_base)
            for packet in vs.encode(frame.reformat(format="yuv420p")):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)


def times_of(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.time) for f in c.decode(video=0)]


def sequential(jobs: list[FileJob]) -> float:
    start = time.perf_counter()
    segmenter, style = JobSettings(device="cpu").build()
    for job in jobs:
        process_file(job.input, job.output, segmenter, style)
    return time.perf_counter() - start


def on_ray(jobs: list[FileJob], **kw) -> tuple[float, list]:
    start = time.perf_counter()
    results = run_on_ray(jobs, kw.pop("settings", JobSettings(device="cpu")), None,
                         overwrite=True, **kw)
    return time.perf_counter() - start, results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--long-frames", type=int, default=250)
    ap.add_argument("--skip", default="", help="comma list of parts to skip: batch,long,kill")
    args = ap.parse_args()
    skip = set(args.skip.split(","))
    import ray

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    # One local instance for the whole benchmark (what --ray without an address starts for
    # each run), timed on its own: the runs below then time actors, models and work only.
    started = time.perf_counter()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_worker_niceness", "0")  # as --ray does for a local instance
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=128 * 1024 * 1024)
    ray_start_s = time.perf_counter() - started
    folder = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    report: dict = {"footage": FOOTAGE.name, "cpus": os.cpu_count(),
                    "ray_start_s": round(ray_start_s, 1)}
    inputs = []
    for i in range(args.files):
        inputs.append(folder / f"in{i}.mp4")
        cut(FOOTAGE, inputs[-1], i * args.frames, args.frames)
    if "batch" not in skip:
        seq_jobs = [FileJob(p, folder / f"seq{i}.mp4") for i, p in enumerate(inputs)]
        ray_jobs = [FileJob(p, folder / f"ray{i}.mp4") for i, p in enumerate(inputs)]
        ray_s, results = on_ray(ray_jobs)
        seq_s = sequential(seq_jobs)
        report["batch"] = {"files": args.files, "frames_each": args.frames,
                           "sequential_s": round(seq_s, 1), "ray_2_workers_s": round(ray_s, 1),
                           "ratio_seq_over_ray": round(seq_s / ray_s, 2),
                           "statuses": [r.status for r in results],
                           "ray_seconds_in_workers": [round(r.seconds, 1) for r in results],
                           "same_frames": all(times_of(a.output) == times_of(b.output)
                                              for a, b in zip(seq_jobs, ray_jobs))}
        print(json.dumps(report), flush=True)
    if "long" not in skip:
        long_in = folder / "long.mp4"
        cut(FOOTAGE, long_in, 0, args.long_frames)
        whole = FileJob(long_in, folder / "long-whole.mp4")
        split = FileJob(long_in, folder / "long-split.mp4")
        whole_s = sequential([whole])
        split_s, [result] = on_ray([split], split=2)
        a, b = times_of(whole.output), times_of(split.output)
        report["long"] = {"frames": args.long_frames, "whole_s": round(whole_s, 1),
                          "split_2_chunks_ray_s": round(split_s, 1),
                          "ratio_whole_over_split": round(whole_s / split_s, 2),
                          "status": result.status, "frames_whole": len(a),
                          "frames_split": len(b), "identical_timestamps": a == b}
        print(json.dumps(report), flush=True)
    if "kill" not in skip:
        pids = folder / "pids"
        pids.mkdir()
        jobs = [FileJob(p, folder / f"kill{i}.mp4") for i, p in enumerate(inputs)]
        box: list = []
        runner = threading.Thread(target=lambda: box.append(on_ray(
            jobs, settings=JobSettings(factory=RecordingPid(pids)))))
        runner.start()
        while not list(folder.glob(".kill*.partial.mp4")) and runner.is_alive():
            time.sleep(0.05)
        victim = min(pids.iterdir(), key=lambda p: p.stat().st_mtime)
        os.kill(int(victim.name), signal.SIGKILL)
        killed_at = time.perf_counter()
        runner.join()
        seconds, results = box[0]
        leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".kill")]
        report["kill"] = {"files": len(jobs), "killed_pid": int(victim.name),
                          "statuses": [r.status for r in results],
                          "frames": [len(times_of(j.output)) for j in jobs],
                          "expected_frames": args.frames,
                          "workers_started": len(list(pids.iterdir())),
                          "hidden_leftovers": leftovers, "seconds": round(seconds, 1),
                          "after_kill_s": round(time.perf_counter() - killed_at, 1)}
    print(json.dumps(report))
    ray.shutdown()


if __name__ == "__main__":
    main()
