"""Several inputs: expansion, output names, the batch runner, and the command line's summary."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from livesegment.cli import main
from livesegment.core.segmenter import Segmenter
from livesegment.errors import InputError, OutputError
from livesegment.io.inputs import expand_inputs, output_name, plan_outputs
from livesegment.pipeline.batch import run_batch
from tests.conftest import fake_segmenter, make_clip, read_clip


@pytest.fixture
def fake_model(monkeypatch):
    """The CLI gets the fast red-is-person model: these tests are about files, not pixels."""
    monkeypatch.setattr(Segmenter, "create", classmethod(lambda cls, *a, **k: fake_segmenter()))


@pytest.mark.parametrize(("source", "name"), [
    (Path("a/walk.mp4"), "walk.mp4"),
    (Path("a/walk.MKV"), "walk.MKV"[:-4] + ".mkv"),
    (Path("a/old.avi"), "old.mp4"),
    (Path("a/clip.m4v"), "clip.mp4"),
    (Path("a/anim.gif"), "anim.gif"),
    (Path("a/photo.JPG"), "photo.JPG"),
    ("0", "camera0.mp4"),
    ("rtsp://cam.local/live/door?token=1", "door.mp4"),
    ("https://example.org/", "stream.mp4"),
])
def test_output_names_keep_the_stem_and_a_writable_suffix(source, name):
    assert output_name(source) == name


def test_folders_globs_urls_and_cameras_expand_in_order(tmp_path):
    for name in ("b.mp4", "a.mkv", "c.png", "notes.txt", ".hidden.mp4", "x.partial.mp4"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.mov").write_bytes(b"x")
    got = expand_inputs([str(tmp_path), f"{tmp_path}/**/*.mov", "rtsp://h/s", "1",
                         str(tmp_path / "missing.mp4"), str(tmp_path / "b.mp4")])
    assert got == [tmp_path / "a.mkv", tmp_path / "b.mp4", tmp_path / "c.png",
                   tmp_path / "sub" / "d.mov", "rtsp://h/s", "1", tmp_path / "missing.mp4"]


@pytest.mark.parametrize(("specs", "message"), [
    (["{d}/empty"], "no videos or pictures in folder {d}/empty"),
    (["{d}/*.webm"], "no videos or pictures match {d}/*.webm"),
])
def test_folders_and_patterns_that_match_nothing_are_errors(tmp_path, specs, message):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=message.format(d=tmp_path).replace("*", r"\*")):
        expand_inputs([s.format(d=tmp_path) for s in specs])


def test_outputs_go_into_a_folder_for_several_inputs(tmp_path):
    jobs = plan_outputs([Path("x/a.mp4"), Path("y/b.avi")], str(tmp_path / "out") + "/")
    assert jobs == [(Path("x/a.mp4"), tmp_path / "out" / "a.mp4"),
                    (Path("y/b.avi"), tmp_path / "out" / "b.mp4")]
    assert (tmp_path / "out").is_dir()
    assert plan_outputs([Path("a.mp4")], "o.webm") == [(Path("a.mp4"), Path("o.webm"))]
    with pytest.raises(OutputError, match="would both write"):
        plan_outputs([Path("x/a.mp4"), Path("y/a.avi")], str(tmp_path / "o2"))
    (tmp_path / "file.mp4").write_bytes(b"x")
    with pytest.raises(OutputError, match="several inputs need a folder"):
        plan_outputs([Path("a.mp4"), Path("b.mp4")], str(tmp_path / "file.mp4"))


def test_the_runner_records_each_failure_and_carries_on(tmp_path):
    jobs = [(Path(n), tmp_path / n) for n in ("a", "bad", "c", "done-before")]
    (tmp_path / "done-before").write_text("complete")
    ran = []

    def run_one(source, output):
        ran.append(source.name)
        if source.name == "bad":
            raise InputError(f"cannot read video {source}\nsecond line")
        output.write_text("new")
        return len(ran)

    results = run_batch(jobs, run_one)
    assert [r.status for r in results] == ["done", "failed", "done", "skipped"]
    assert results[1].message == "cannot read video bad"  # one line
    assert [r.report for r in results] == [1, None, 3, None]
    assert ran == ["a", "bad", "c"]
    assert (tmp_path / "done-before").read_text() == "complete"
    again = run_batch(jobs, run_one, overwrite=True)
    assert [r.status for r in again] == ["done", "failed", "done", "done"]


def test_a_stop_or_an_interrupted_job_leaves_the_rest_not_started(tmp_path):
    stop = threading.Event()
    jobs = [(Path(n), tmp_path / n) for n in ("a", "b", "c")]
    results = run_batch(jobs, lambda s, o: s.name, stop=stop,
                        interrupted=lambda report: report == "b")
    assert [r.status for r in results] == ["done", "interrupted", "not started"]


def test_cli_runs_a_folder_reports_each_file_and_fails_with_2(tmp_path, fake_model, capsys):
    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "one.mp4", frames=6)
    make_clip(src / "two.mkv", frames=4)
    (src / "broken.mp4").write_text("not a video")
    out = tmp_path / "out"
    code = main(["process", str(src), "-o", f"{out}/", "--quiet"])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert err[0].startswith(f"failed       {src}/broken.mp4 cannot read video")
    assert err[1].startswith(f"done         {src}/one.mp4 -> {out}/one.mp4 (6 frames")
    assert err[2].startswith(f"done         {src}/two.mkv -> {out}/two.mkv (4 frames")
    assert err[3] == "livesegment: 1 of 3 inputs failed"
    assert len(read_clip(out / "one.mp4")[1]) == 6 and len(read_clip(out / "two.mkv")[1]) == 4
    assert not (out / "broken.mp4").exists()

    (src / "broken.mp4").unlink()
    before = (out / "one.mp4").stat().st_mtime_ns
    assert main(["process", f"{src}/*.mp4", f"{src}/*.mkv", "-o", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [f"skipped      {src}/one.mp4 -> {out}/one.mp4 (exists; --overwrite to redo "
                   "it)", f"skipped      {src}/two.mkv -> {out}/two.mkv (exists; --overwrite "
                   "to redo it)"]
    assert main(["process", str(src), "-o", str(out), "--quiet", "--overwrite"]) == 0
    assert (out / "one.mp4").stat().st_mtime_ns != before


def test_cli_batch_gives_each_input_its_own_masks_and_stats(tmp_path, fake_model):
    make_clip(tmp_path / "a.mp4", frames=3)
    make_clip(tmp_path / "b.mp4", frames=5)
    out = tmp_path / "out"
    assert main(["process", str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4"), "-o", str(out),
                 "--masks", str(tmp_path / "m"), "--stats", str(tmp_path / "s.csv"),
                 "--quiet"]) == 0
    assert len(list((tmp_path / "m" / "a").glob("*.png"))) == 3
    assert len(list((tmp_path / "m" / "b").glob("*.png"))) == 5
    assert len((tmp_path / "s-b.csv").read_text().splitlines()) == 1 + 5


def test_sample_runs_with_no_input_given(tmp_path, fake_model, capsys):
    """The first command of the README, cut to its first second to stay fast."""
    out = tmp_path / "people-overlay.mp4"
    assert main(["process", "--sample", "-o", str(out), "--end", "1"]) == 0
    times, pictures = read_clip(out)
    assert len(pictures) == 10 and pictures[0].shape == (432, 768, 3)  # 10 fps sample
    assert times[0] == 0.0 and times[-1] == pytest.approx(0.9)
    assert f"wrote {out}: 10 frames, 768x432" in capsys.readouterr().err


def test_no_input_at_all_is_a_clear_error(tmp_path, capsys):
    assert main(["process", "-o", str(tmp_path / "o.mp4")]) == 2
    assert "no input given" in capsys.readouterr().err


def test_sample_with_the_real_model_finds_people(tmp_path):
    """The real default model on half a second of the sample (from 0:06, when someone stands
    at the table): a person takes up about a tenth of the picture."""
    stats = tmp_path / "s.json"
    out = tmp_path / "people.webm"
    assert main(["process", "--sample", "-o", str(out), "--start", "0:06", "--duration", "0.5",
                 "--stats", str(stats),
                 "--quiet", "--classes", "person"]) == 0
    import json

    frames = json.loads(stats.read_text())["frames"]
    assert len(frames) == 5 == len(read_clip(out)[1])
    assert frames[0]["time_s"] == 0.0
    assert all(0.05 < f["shares"]["person"] < 0.2 for f in frames)


@pytest.mark.parametrize(("source", "realtime"), [
    ("0", True), ("rtsp://cam/live", True), ("RTMP://x/y", True), ("udp://@:1234", True),
    ("http://h/clip.mp4", False), ("https://h/a.webm", False), (Path("0"), False),
])
def test_cameras_and_realtime_streams_are_timed_from_their_first_frame(source, realtime):
    from livesegment.io.inputs import is_realtime

    assert is_realtime(source) is realtime


def test_from_first_frame_counts_time_from_the_first_picture():
    import numpy as np

    from livesegment.core.frames import Frame
    from livesegment.pipeline.job import from_first_frame

    frames = [Frame(i, 5000.0 + i * 0.04, np.zeros((1, 1, 3), np.uint8)) for i in range(3)]
    assert [f.pts_s for f in from_first_frame(iter(frames))] == pytest.approx([0, 0.04, 0.08])
