"""The Ray runner: chunk planning and joining (no Ray), then a real local Ray cluster.

The cluster tests share one ``ray start --head`` on 127.0.0.1 with 2 CPUs (module fixture,
stopped at the end by killing the process group it started); each run starts 2 actors, which on
a small shared machine costs a few seconds, so their clips are tiny and their runs few. Two of
them run by default (several files with a damaged one and a re-run; the path check); the killed
worker and the chunked video on the cluster are ``slow`` (opt-in: ``-m slow``).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import tests.conftest as conftest
from livesegment.errors import InputError
from livesegment.io.chunks import (VideoIndex, chunk_path, index_video, join_chunks,
                                   plan_chunks)
from livesegment.pipeline.cluster import ChunkTask, encode_chunk, worker_count
from livesegment.pipeline.job import process_file
from livesegment.pipeline.jobs import FileJob, JobSettings
from tests.conftest import _write_tone, fake_segmenter, read_clip, synthetic_frame

RAY = Path(sys.executable).with_name("ray")
START_TIMEOUT_S = 120
RUN_TIMEOUT_S = 300


def make_keyed_clip(path: Path, frames: int, keyint: int, size=(48, 64), tone_hz=None,
                    time_base=Fraction(1, 1000)) -> list[float]:
    """A clip with a keyframe every ``keyint`` frames and uneven frame times (so a join that
    re-timed frames at a constant rate would show); optionally a tone as long as the pictures."""
    height, width = size
    times = [i / 25 + (0.013 if i % 3 == 1 else 0.0) for i in range(frames)]
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.time_base = vs.codec_context.time_base = time_base
        vs.options = {"crf": "12", "preset": "ultrafast", "g": str(keyint),
                      "keyint_min": str(keyint), "sc_threshold": "0"}
        aus = None
        if tone_hz:
            aus = out.add_stream("aac", rate=48000)
            aus.layout = "stereo"
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(synthetic_frame(i, height, width), format="bgr24")
            frame.pts, frame.time_base = round(t / time_base), time_base
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        if aus is not None:
            _write_tone(out, aus, tone_hz, times[-1] + 0.04)
    return times


def audio_seconds(path: Path) -> float:
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return 0.0
        return sum(f.samples for f in c.decode(audio=0)) / c.streams.audio[0].rate


def hidden_leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@dataclass(frozen=True)
class FakeModel:
    """A picklable factory of the red-is-person segmenter; records each worker's process id
    (a restarted worker records a new one) so a test can kill it."""

    delay_s: float = 0.0
    pids: Path | None = None

    def __call__(self):
        if self.pids is not None:
            (self.pids / str(os.getpid())).touch()
        segmenter = fake_segmenter(delay_s=self.delay_s)
        return segmenter, segmenter.default_style()


# --------------------------------------------------------------------------- without Ray


@pytest.mark.parametrize("keys, chunks, overlap, expect", [
    # frames 0..11 (ticks = index); keyframes every 4
    ((0, 4, 8), 3, 2, [(0, 0, 0, 4, 4), (0, 2, 4, 8, 4), (4, 6, 8, None, 4)]),
    ((0, 4, 8), 2, 1, [(0, 0, 0, 4, 4), (0, 3, 4, None, 8)]),  # cut at the keyframe nearest 5.5
    ((0, 4, 8), 1, 3, [(0, 0, 0, None, 12)]),
    ((0,), 4, 3, [(0, 0, 0, None, 12)]),  # one keyframe: cannot split
    ((0, 4, 8), 3, 0, [(0, 0, 0, 4, 4), (4, 4, 4, 8, 4), (8, 8, 8, None, 4)]),
])
def test_plan_chunks_cuts_at_keyframes_with_overlap(keys, chunks, overlap, expect):
    index = VideoIndex(Fraction(1), tuple(range(12)), keys)
    spans = plan_chunks(index, chunks, overlap)
    assert [(s.seek_s, s.warm_s, s.start_s, s.end_s, s.frames) for s in spans] == expect
    assert sum(s.frames for s in spans) == 12


@pytest.mark.parametrize("resources, files, split, expect", [
    ({"CPU": 8}, 20, None, 8),  # one CPU actor per core
    ({"CPU": 8}, 3, None, 3),  # no more than the files
    ({"CPU": 8}, 1, None, 8),  # one video: all of them, through its chunks
    ({"CPU": 8}, 1, 1, 1),  # one video, never split
    ({"CPU": 32, "GPU": 4}, 20, None, 4),  # one GPU actor per GPU
    ({"CPU": 1}, 5, None, 1),
])
def test_worker_count_follows_the_cluster(resources, files, split, expect):
    assert worker_count(resources, files, split) == expect


def test_chunks_joined_equal_the_whole_file(tmp_path):
    """Frame-exact: the chunked result has the whole-file result's frames and timestamps, every
    frame decodes, the audio is there once, and no chunk file is left."""
    source = tmp_path / "long.mp4"
    times = make_keyed_clip(source, 36, keyint=6, tone_hz=440)
    segmenter = fake_segmenter()
    style = segmenter.default_style()
    whole = tmp_path / "whole.mp4"
    process_file(source, whole, segmenter, style)

    joined = tmp_path / "joined.mp4"
    spans = plan_chunks(index_video(source), 3, overlap=4)
    assert len(spans) == 3 and spans[1].warm_s < spans[1].start_s
    paths = []
    for span in spans:
        task = ChunkTask(FileJob(source, joined), span, chunk_path(joined, span.index))
        assert encode_chunk(task, segmenter, style, lambda n: None) == span.frames
        paths.append(task.path)
    assert join_chunks(paths, joined, source) == len(times)
    for path in paths:
        path.unlink()
    paths[0].parent.rmdir()

    whole_times, whole_pictures = read_clip(whole)
    joined_times, joined_pictures = read_clip(joined)
    assert joined_times == whole_times == pytest.approx(times, abs=1e-3)
    assert len(joined_pictures) == len(times)
    diff = [np.abs(a.astype(int) - b.astype(int)).mean()
            for a, b in zip(whole_pictures, joined_pictures)]
    assert max(diff) < 2.0  # same pictures up to encoder noise
    assert audio_seconds(joined) == pytest.approx(audio_seconds(whole), abs=0.03)
    assert audio_seconds(joined) == pytest.approx(times[-1] + 0.04, abs=0.05)
    assert hidden_leftovers(tmp_path) == []


def test_importing_the_cli_does_not_import_ray():
    code = ("import sys, livesegment.cli, livesegment.pipeline.jobs; "
            "sys.exit('ray' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_cli_offers_ray_with_a_default_local_address():
    from livesegment.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["process", "a.mp4", "-o", "b.mp4", "--ray"]).ray == "local"
    args = parser.parse_args(["process", "a.mp4", "-o", "b.mp4", "--ray", "ray://h:10001"])
    assert args.ray == "ray://h:10001"
    assert parser.parse_args(["process", "a.mp4", "-o", "b.mp4"]).ray is None


# --------------------------------------------------------------------------- a real cluster


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """``ray start --head`` on loopback with 2 CPUs; yields its address, then stops exactly the
    processes it started (its process group, and any worker still naming its temp folder)."""
    os.environ["RAY_AUTH_MODE"] = "token"  # read when ray is first imported
    # Token mode refuses to start without a token, and a fresh machine has no ~/.ray/auth_token:
    # the head (started with this environment) and this driver share one made for the run.
    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    ray = pytest.importorskip("ray")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # FakeModel for workers
    ray.cloudpickle.register_pickle_by_value(conftest)
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="lsray", dir="/tmp")  # short: Ray's socket paths
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    head = subprocess.Popen(
        [str(RAY), "start", "--head", f"--port={port}", "--num-cpus=2",
         "--node-ip-address=127.0.0.1", "--include-dashboard=false",
         "--object-store-memory=80000000", "--disable-usage-stats", f"--temp-dir={temp}",
         "--block"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not list(Path(temp).glob("session_latest/sockets/raylet")):
            assert head.poll() is None, "ray start exited"
            assert time.monotonic() < deadline, "ray start did not come up"
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        ray.shutdown()
        _stop_group(head, temp)


def _stop_group(head: subprocess.Popen, temp: str) -> None:
    for sig, wait_s in ((signal.SIGTERM, 3), (signal.SIGKILL, 15)):
        try:
            os.killpg(head.pid, sig)
            head.wait(wait_s)
            break
        except ProcessLookupError:
            break
        except subprocess.TimeoutExpired:
            continue
    time.sleep(1)
    found = subprocess.run(["pgrep", "-f", temp], capture_output=True, text=True).stdout.split()
    for pid in found:  # workers in their own process groups, started by that head
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass


def _run(jobs, address, **kw):
    from livesegment.pipeline.cluster import run_on_ray

    return run_on_ray(jobs, JobSettings(factory=kw.pop("factory", FakeModel())), address, **kw)


def test_several_files_each_once_and_a_damaged_one_reported(cluster, tmp_path):
    jobs = []
    for i in range(3):
        make_keyed_clip(tmp_path / f"in{i}.mp4", 10 + i, keyint=5)
        jobs.append(FileJob(tmp_path / f"in{i}.mp4", tmp_path / f"out{i}.mp4"))
    (tmp_path / "damaged.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    jobs.insert(1, FileJob(tmp_path / "damaged.mp4", tmp_path / "out-damaged.mp4"))
    seen = []
    results = _run(jobs, cluster, on_progress=seen.append)

    assert [r.status for r in results] == ["ok", "failed", "ok", "ok"]
    assert "damaged.mp4" in results[1].message
    assert not (tmp_path / "out-damaged.mp4").exists()
    for i in range(3):
        times, _ = read_clip(tmp_path / f"out{i}.mp4")
        assert len(times) == 10 + i
        assert results[[0, 2, 3][i]].frames == 10 + i
    assert seen[-1].frames == 33 and seen[-1].files_done == 4
    assert hidden_leftovers(tmp_path) == []

    # A re-run skips the complete outputs (and retries only the one that failed)
    again = _run(jobs[:1] + jobs[2:], cluster)
    assert [r.status for r in again] == ["skipped"] * 3


@pytest.mark.slow  # ~45 s on the shared 2-core machine: a worker restarts (imports torch again)
def test_a_worker_killed_mid_file_loses_nothing(cluster, tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    jobs = []
    for i in range(4):
        make_keyed_clip(work / f"in{i}.mp4", 16, keyint=8)
        jobs.append(FileJob(work / f"in{i}.mp4", work / f"out{i}.mp4"))
    done: list = []
    runner = threading.Thread(target=lambda: done.append(
        _run(jobs, cluster, factory=FakeModel(delay_s=0.08, pids=pids))))
    runner.start()
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not list(work.glob(".out*.partial.mp4")):  # some worker is mid-file
        assert runner.is_alive() and time.monotonic() < deadline
        time.sleep(0.05)
    victim = int(sorted(pids.iterdir(), key=lambda p: p.stat().st_mtime)[0].name)
    os.kill(victim, signal.SIGKILL)
    runner.join(RUN_TIMEOUT_S)
    assert not runner.is_alive()

    results = done[0]
    assert [r.status for r in results] == ["ok"] * 4, [r.message for r in results]
    for job in jobs:
        assert len(read_clip(job.output)[0]) == 16
    assert len(list(pids.iterdir())) == 3  # the killed worker was restarted once
    assert hidden_leftovers(work) == []


@pytest.mark.slow  # ~30 s; the same join is checked without Ray in the default run
def test_a_single_video_in_chunks_equals_one_machine(cluster, tmp_path):
    source = tmp_path / "long.mp4"
    times = make_keyed_clip(source, 30, keyint=6, tone_hz=330)
    whole = tmp_path / "whole.mp4"
    segmenter = fake_segmenter()
    process_file(source, whole, segmenter, segmenter.default_style())

    out = tmp_path / "chunked.mp4"
    [result] = _run([FileJob(source, out)], cluster, split=3, overlap=3)
    assert result.status == "ok" and result.frames == 30
    assert read_clip(out)[0] == read_clip(whole)[0] == pytest.approx(times, abs=1e-3)
    assert audio_seconds(out) == pytest.approx(audio_seconds(whole), abs=0.03)
    assert hidden_leftovers(tmp_path) == []


def test_a_path_missing_on_a_node_is_refused_clearly(cluster, tmp_path):
    make_keyed_clip(tmp_path / "in.mp4", 4, keyint=2)
    jobs = [FileJob(tmp_path / "in.mp4", tmp_path / "a.mp4"),
            FileJob(tmp_path / "gone.mp4", tmp_path / "b.mp4")]
    with pytest.raises(InputError) as refused:
        _run(jobs, cluster)
    message = str(refused.value)
    assert "\n" not in message
    assert f"input not found: {tmp_path / 'gone.mp4'}" in message
    assert "on node " in message and "shared storage" in message
    assert not (tmp_path / "a.mp4").exists()


def test_cli_refuses_masks_with_ray_before_starting_it(tmp_path, capsys):
    from livesegment.cli import main

    make_keyed_clip(tmp_path / "in.mp4", 4, keyint=2)
    code = main(["process", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "out.mp4"),
                 "--masks", str(tmp_path / "m"), "--ray"])
    assert code == 2
    assert capsys.readouterr().err.strip() == "livesegment: --masks is not available with --ray yet"


def test_cli_names_a_missing_input_and_its_node(cluster, tmp_path, capsys):
    from livesegment.cli import main

    code = main(["process", str(tmp_path / "gone.mp4"), "-o", str(tmp_path / "out.mp4"),
                 "--quiet", "--ray", cluster])
    err = [line for line in capsys.readouterr().err.splitlines() if "livesegment:" in line]
    assert code == 2
    assert err == [f"livesegment: input not found: {tmp_path / 'gone.mp4'} (on node "
                   f"{err[0].split('(on node ')[1].split(')')[0]}); with --ray every node must "
                   "see the inputs and outputs at the same paths (shared storage)"]


@pytest.mark.slow  # the real model on two actors
def test_cli_processes_one_video_on_the_cluster_with_the_real_model(cluster, tmp_path, capsys):
    from livesegment.cli import main

    source = tmp_path / "in.mp4"
    times = make_keyed_clip(source, 20, keyint=5, size=(96, 128), tone_hz=440)
    out = tmp_path / "out.mp4"
    assert main(["process", str(source), "-o", str(out), "--device", "cpu", "--quiet",
                 "--ray", cluster]) == 0
    assert read_clip(out)[0] == pytest.approx(times, abs=1e-3)
    assert f"ok      {source} -> {out}: 20 frames" in capsys.readouterr().err
    assert main(["process", str(source), "-o", str(out), "--quiet", "--ray", cluster]) == 0
    assert f"skipped {source} -> {out}: output exists" in capsys.readouterr().err


@pytest.mark.slow
def test_a_stopped_run_keeps_finished_files_and_leaves_no_partial(cluster, tmp_path):
    jobs = []
    for i in range(3):
        make_keyed_clip(tmp_path / f"in{i}.mp4", 24, keyint=8)
        jobs.append(FileJob(tmp_path / f"in{i}.mp4", tmp_path / f"out{i}.mp4"))
    stop = threading.Event()

    def watch(progress):
        if progress.frames > 0:
            stop.set()

    results = _run(jobs, cluster, factory=FakeModel(delay_s=0.08), on_progress=watch, stop=stop)
    assert stop.is_set()
    for result in results:
        assert result.status in ("ok", "failed")
        if result.status == "failed":
            assert result.message == "interrupted" and not result.output.exists()
        else:
            assert len(read_clip(result.output)[0]) == 24
    assert "failed" in [r.status for r in results]
    assert hidden_leftovers(tmp_path) == []
