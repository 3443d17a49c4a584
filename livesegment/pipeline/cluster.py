"""Batches of videos on a Ray cluster: ``livesegment process ... --ray [ADDRESS]``.

Each worker is a Ray actor that builds the model once and then annotates whole files with the
same :func:`~livesegment.pipeline.job.process_file` as a local run (timing, audio and per-stream
state stay intact). A single video is instead cut at keyframes into time chunks that the actors
encode in parallel and one actor then remuxes, without re-encoding, into the final file.

How many actors: one per GPU where the cluster has GPUs (``num_gpus=1`` each), else one per CPU
(``num_cpus=1`` each, so Ray gives every actor one intra-op thread: for batch work, independent
single-threaded models use cores better than one model on many threads), never more than there
is work. Faults: actors restart and their running task is retried by Ray (``max_restarts``,
``max_task_retries``); outputs are written under hidden names and renamed only when complete,
so a killed attempt leaves nothing under a final name, and its hidden leftovers are removed.

``ray`` is imported only in here, and only when a run starts (optional extra
``livesegment[cluster]``).
"""

from __future__ import annotations

import glob
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from livesegment.errors import InputError, LivesegmentError, describe
from livesegment.pipeline.jobs import FileJob, FileResult, JobSettings

DEFAULT_OVERLAP = 8  # frames run through the model before a chunk's first written frame
LOCAL_CPUS = 2  # a Ray instance started for one run on this machine
LOCAL_OBJECT_STORE = 128 * 1024 * 1024  # the run passes paths and results, not pictures
RETRIES = 3  # restarts of a dead actor, and retries of the task it was running
REPORT_EVERY_S = 0.3  # how often a worker tells the driver its frame count


@dataclass(frozen=True)
class ClusterProgress:
    """Frames written across the cluster (``total``: estimated from the files' headers)."""

    frames: int
    total: int
    files_done: int
    files: int


@dataclass(frozen=True)
class ChunkTask:
    """One time chunk of ``job``'s input, encoded into ``path`` (see io/chunks.py)."""

    job: FileJob
    span: Any  # livesegment.io.chunks.ChunkSpan (imported by workers only)
    path: Path


# --------------------------------------------------------------------------- worker side


class FileWorker:
    """The body of a Ray actor: one loaded model, reused for every file or chunk it is given."""

    def __init__(self, settings: JobSettings) -> None:
        self.error: LivesegmentError | None = None
        self.masks = None
        try:
            self.segmenter, self.style = settings.build()
            self.masks = settings.masks
        except LivesegmentError as exc:  # handed to the driver by ready(), to stop the run
            self.error = exc

    def ready(self) -> tuple[int, LivesegmentError | None]:
        """This worker's process id, and why its model could not be built (None: it could)."""
        return os.getpid(), self.error

    def run_file(self, job: FileJob, key: str, tally: Any) -> FileResult:
        from livesegment.core.masks.smoothing import MASKS_OFF
        from livesegment.pipeline.job import process_file

        remove_partials(job.output)  # a killed earlier attempt's hidden file
        start = time.perf_counter()
        report = _Reporter(tally, key)
        try:
            result = process_file(job.input, job.output, self.segmenter, self.style,
                                  on_progress=lambda p: report(p.frames),
                                  mask_options=self.masks or MASKS_OFF)
        except Exception as exc:  # noqa: BLE001 - this file fails, the batch goes on
            remove_partials(job.output)
            return FileResult(job.input, job.output, "failed", describe(exc),
                              seconds=time.perf_counter() - start)
        report(result.frames, force=True)
        notes = []
        if result.unreadable:
            notes.append(f"{result.unreadable} unreadable frames skipped")
        if result.truncated:
            notes.append("the file ends early (truncated)")
        return FileResult(job.input, job.output, "ok", "; ".join(notes), frames=result.frames,
                          seconds=time.perf_counter() - start)

    def run_chunk(self, task: ChunkTask, key: str, tally: Any) -> FileResult:
        start = time.perf_counter()
        report = _Reporter(tally, key)
        try:
            frames = encode_chunk(task, self.segmenter, self.style, report)
        except Exception as exc:  # noqa: BLE001 - reported as the file's failure
            return FileResult(task.job.input, task.job.output, "failed", describe(exc),
                              seconds=time.perf_counter() - start)
        report(frames, force=True)
        return FileResult(task.job.input, task.path, "ok", frames=frames,
                          seconds=time.perf_counter() - start)

    def join(self, job: FileJob, chunks: list[Path]) -> FileResult:
        from livesegment.io.chunks import join_chunks, remove_chunks

        start = time.perf_counter()
        try:
            frames = join_chunks(chunks, job.output, job.input)
        except Exception as exc:  # noqa: BLE001
            return FileResult(job.input, job.output, "failed", describe(exc))
        finally:
            remove_chunks(job.output)
        return FileResult(job.input, job.output, "ok", frames=frames,
                          seconds=time.perf_counter() - start)


class _Reporter:
    """Sends a task's frame count to the driver's tally, at most every ``REPORT_EVERY_S``.

    Counts are set, not added, per task key, so a retried task does not count twice."""

    def __init__(self, tally: Any, key: str) -> None:
        self.tally, self.key, self._last = tally, key, 0.0

    def __call__(self, frames: int, force: bool = False) -> None:
        now = time.monotonic()
        if self.tally is not None and (force or now - self._last >= REPORT_EVERY_S):
            self._last = now
            self.tally.set.remote(self.key, frames)


def encode_chunk(task: ChunkTask, segmenter, style, report: Callable[[int], None]) -> int:
    """Annotates the frames of ``task.span`` into ``task.path`` with the same encoder settings
    as a whole-file run; the warm-up frames before the span go through the model unwritten."""
    from livesegment.core.models.device import encoder_threads, offline_streams
    from livesegment.io.video import VideoFileSink, VideoFileSource
    from livesegment.pipeline.offline import run_offline

    span = task.span
    task.path.parent.mkdir(parents=True, exist_ok=True)
    reader = VideoFileSource(task.job.input, start_s=span.seek_s)  # from the keyframe before
    eps = float(reader.time_base) / 2
    written = 0
    try:
        sink = VideoFileSink.matching(reader, task.path,
                                      threads=encoder_threads(segmenter.device))

        def frames() -> Iterator:
            for frame in reader.frames():
                if span.end_s is not None and frame.pts_s >= span.end_s - eps:
                    return
                if frame.pts_s >= span.warm_s - eps:
                    yield frame

        def write(composed) -> None:
            nonlocal written
            if composed.frame.pts_s >= span.start_s - eps:
                sink.write(composed.image, composed.frame.pts_s)
                written += 1
                report(written)

        try:
            streams = segmenter.replicas(offline_streams(segmenter.device))
            run_offline(frames(), [s.infer for s in streams],
                        lambda r: segmenter.compose(r, style), write)
        except BaseException:
            sink.abort()
            raise
        if written == 0:
            sink.abort()
            raise InputError(f"no frame of {task.job.input} could be decoded between "
                             f"{span.start_s:.3f} s and {span.end_s} s")
        sink.finish()
    finally:
        reader.close()
    return written


def remove_partials(output: Path) -> None:
    """Removes the hidden partial files of ``output`` (``.name.<pid>.partial.mp4``) that an
    attempt killed before it could rename or delete them."""
    pattern = f".{glob.escape(output.stem)}.*.partial{glob.escape(output.suffix)}"
    for path in output.parent.glob(pattern):
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- driver side


def require_ray():
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs Ray: pip install 'livesegment[cluster]'") from None
    return ray


@dataclass
class _FileState:
    """The driver's bookkeeping for one file split into chunks."""

    job: FileJob
    chunks: list[ChunkTask]
    done: dict[int, FileResult] = field(default_factory=dict)
    failed: FileResult | None = None
    started: float = field(default_factory=time.perf_counter)


def run_on_ray(jobs: Sequence[FileJob], settings: JobSettings, address: str | None = None,
               on_progress: Callable[[ClusterProgress], None] | None = None,
               stop: threading.Event | None = None, overwrite: bool = False,
               workers: int | None = None, split: int | None = None,
               overlap: int = DEFAULT_OVERLAP) -> list[FileResult]:
    """Annotates every job on the Ray cluster at ``address`` and returns one result per job, in
    the jobs' order.

    ``address``: ``auto``, ``host:port``, ``ray://host:port``; ``None`` or ``"local"`` starts a
    Ray instance on this machine for this run only. ``split``: how many time chunks a single
    video is cut into (default: one per worker when there is one video; 1: never split).
    ``overlap``: frames a chunk runs through the model before its first written frame.
    """
    jobs = [FileJob(Path(j.input).absolute(), Path(j.output).absolute()) for j in jobs]
    results: dict[int, FileResult] = {}
    todo: list[int] = []
    for i, job in enumerate(jobs):
        if job.output.exists() and not overwrite:
            results[i] = FileResult(job.input, job.output, "skipped", "output exists")
        else:
            todo.append(i)
    if not todo:
        return [results[i] for i in range(len(jobs))]
    ray = require_ray()
    connected_here = _connect(ray, address)
    try:
        check_paths_on_nodes(ray, [jobs[i] for i in todo])
        count = workers or worker_count(ray.cluster_resources(), len(todo), split)
        runner = _Driver(ray, settings, count, on_progress, stop or threading.Event())
        done = runner.run([jobs[i] for i in todo], split, overlap)
        for i, result in zip(todo, done):
            results[i] = result
    finally:
        for i in todo:
            remove_partials(jobs[i].output)
        if connected_here:
            ray.shutdown()  # stops the instance it started; leaves a cluster running
    return [results[i] for i in range(len(jobs))]


def _connect(ray, address: str | None) -> bool:
    """Connects to the cluster (or starts a local instance); False when the caller already was."""
    if ray.is_initialized():
        return False
    if address in (None, "", "local"):
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        # Ray starts workers at nice 15 (its own daemons first); on a machine shared with other
        # programs that left a local run 3x slower than without Ray (BENCHMARKS.md).
        os.environ.setdefault("RAY_worker_niceness", "0")
        ray.init(num_cpus=LOCAL_CPUS, include_dashboard=False, log_to_driver=False,
                 object_store_memory=LOCAL_OBJECT_STORE, configure_logging=False)
        return True
    try:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise InputError(f"cannot reach the Ray cluster at {address}: "
                         f"{describe(exc)[:200]}") from None
    return True


def worker_count(resources: dict[str, float], files: int, split: int | None = None) -> int:
    """One actor per GPU, else per CPU; no more than the work can use (a single video can use
    them all through its chunks)."""
    slots = int(resources.get("GPU", 0)) or int(resources.get("CPU", 1))
    work = files if files > 1 or split == 1 else slots
    return max(1, min(slots, work))


def check_paths_on_nodes(ray, jobs: Sequence[FileJob]) -> None:
    """Refuses the run, before any model loads, when an input or output folder is not usable
    on some alive node: every node may get any file, so all must share the storage."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    probe = ray.remote(num_cpus=0, max_retries=0)(_path_problem)
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    refs = [probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
        n["NodeID"], soft=False)).remote(list(jobs)) for n in nodes]
    for node, problem in zip(nodes, ray.get(refs)):
        if problem:
            where = node.get("NodeManagerAddress", "?")
            raise InputError(f"{problem} (on node {where}); with --ray every node must see "
                             "the inputs and outputs at the same paths (shared storage)")


def _path_problem(jobs: list[FileJob]) -> str | None:
    from livesegment.pipeline.job import check_job_paths

    for job in jobs:
        try:
            check_job_paths(job.input, job.output)
        except LivesegmentError as exc:
            return str(exc)
    return None


class _Tally:
    """A tiny actor the workers report frame counts to; the driver reads the sum."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def set(self, key: str, frames: int) -> None:
        self.counts[key] = frames

    def total(self) -> int:
        return sum(self.counts.values())


class _Driver:
    """Hands work items to idle actors, one at a time each, and collects what comes back."""

    def __init__(self, ray, settings: JobSettings, count: int,
                 on_progress: Callable[[ClusterProgress], None] | None,
                 stop: threading.Event) -> None:
        self.ray, self.settings, self.stop = ray, settings, stop
        self.on_progress = on_progress
        gpu = ray.cluster_resources().get("GPU", 0) >= 1
        self.actor_class = ray.remote(FileWorker).options(
            num_cpus=1, num_gpus=1 if gpu else 0, max_restarts=RETRIES,
            max_task_retries=RETRIES)
        self.tally = ray.remote(_Tally).options(num_cpus=0).remote()
        self.actors = [self.actor_class.remote(settings) for _ in range(count)]
        for _pid, error in ray.get([a.ready.remote() for a in self.actors]):
            if error is not None:  # every worker builds the same model: the run cannot go on
                self._kill_all()
                raise error

    def _kill_all(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor, no_restart=True)
        self.ray.kill(self.tally)

    def run(self, jobs: list[FileJob], split: int | None, overlap: int) -> list[FileResult]:
        chunks = split or (len(self.actors) if len(jobs) == 1 else 1)
        queue: deque = deque()
        states: dict[int, _FileState] = {}
        for i, job in enumerate(jobs):
            tasks = _chunk_tasks(job, chunks, overlap) if chunks > 1 else []
            if len(tasks) > 1:
                states[i] = _FileState(job, tasks)
                queue.extend(("chunk", i, task) for task in tasks)
            else:
                queue.append(("file", i, job))
        total = sum(_frame_estimate(job.input) for job in jobs)
        results: dict[int, FileResult] = {}
        idle = deque(self.actors)
        inflight: dict[Any, tuple[Any, tuple]] = {}
        while queue or inflight:
            if self.stop.is_set():
                self._abandon(jobs, results)
                break
            while idle and queue:
                item = queue.popleft()
                actor = idle.popleft()
                inflight[self._submit(actor, item)] = (actor, item)
            ready, _ = self.ray.wait(list(inflight), num_returns=1, timeout=0.25)
            for ref in ready:
                actor, item = inflight.pop(ref)
                result, actor = self._outcome(ref, actor, item, jobs)
                idle.append(actor)
                self._record(item, result, states, results, queue)
            self._report(total, len(results), len(jobs))
        self._report(total, len(results), len(jobs))
        self._kill_all()
        return [results[i] for i in range(len(jobs))]

    def _submit(self, actor, item: tuple):
        kind, i, payload = item
        if kind == "file":
            return actor.run_file.remote(payload, f"file{i}", self.tally)
        if kind == "chunk":
            return actor.run_chunk.remote(payload, f"file{i}.{payload.span.index}", self.tally)
        return actor.join.remote(*payload)

    def _outcome(self, ref, actor, item: tuple, jobs: list[FileJob]) -> tuple[FileResult, Any]:
        """The task's result; when its actor died for good, a failure and a fresh actor."""
        try:
            return self.ray.get(ref), actor
        except self.ray.exceptions.RayError as exc:
            job = jobs[item[1]]
            fresh = self.actor_class.remote(self.settings)
            self.actors = [fresh if a is actor else a for a in self.actors]
            message = f"worker failed {RETRIES + 1} times: {describe(exc)[:200]}"
            return FileResult(job.input, job.output, "failed", message), fresh

    def _record(self, item: tuple, result: FileResult, states: dict[int, _FileState],
                results: dict[int, FileResult], queue: deque) -> None:
        kind, i, payload = item
        if kind != "chunk":
            if kind == "join":
                result = replace(result, seconds=time.perf_counter() - states[i].started)
            results[i] = result
            return
        state = states[i]
        if state.failed is None and result.status != "ok":
            state.failed = replace(result, output=state.job.output)
        state.done[payload.span.index] = result
        if len(state.done) < len(state.chunks):
            return
        if state.failed is not None:
            from livesegment.io.chunks import remove_chunks

            remove_chunks(state.job.output)
            results[i] = state.failed
        else:
            queue.appendleft(("join", i, (state.job, [t.path for t in state.chunks])))

    def _report(self, total: int, files_done: int, files: int) -> None:
        if self.on_progress is not None:
            frames = self.ray.get(self.tally.total.remote())
            self.on_progress(ClusterProgress(frames, max(total, frames), files_done, files))

    def _abandon(self, jobs: list[FileJob], results: dict[int, FileResult]) -> None:
        """Stop: the actors are killed; finished files stay, the rest are reported."""
        from livesegment.io.chunks import remove_chunks

        self._kill_all()
        for i, job in enumerate(jobs):
            if i not in results:
                remove_chunks(job.output)
                results[i] = FileResult(job.input, job.output, "failed", "interrupted")


def _chunk_tasks(job: FileJob, chunks: int, overlap: int) -> list[ChunkTask]:
    from livesegment.io.chunks import chunk_path, index_video, plan_chunks, remove_chunks
    from livesegment.pipeline.job import is_image

    if is_image(job.input):
        return []
    try:
        spans = plan_chunks(index_video(job.input), chunks, overlap)
    except LivesegmentError:
        return []  # the worker reports the file's own problem
    remove_chunks(job.output)
    return [ChunkTask(job, span, chunk_path(job.output, span.index)) for span in spans]


def _frame_estimate(path: Path) -> int:
    """Frames the file states it has, for the progress bar's total (0 when it can't say)."""
    try:
        import av

        with av.open(str(path)) as container:
            if not container.streams.video:
                return 1
            stream = container.streams.video[0]
            if stream.frames:
                return stream.frames
            rate = stream.guessed_rate or stream.average_rate or 25
            return round(float(container.duration or 0) / 1_000_000 * float(rate))
    except Exception:  # noqa: BLE001 - an image, or a damaged file the worker will report
        return 1
