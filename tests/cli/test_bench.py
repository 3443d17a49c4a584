"""``livesegment bench`` produces every figure; speeds are reported, never asserted."""

from __future__ import annotations

import json

from livesegment.cli import main
from tests.conftest import make_clip


def test_bench_reports_every_figure(tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    make_clip(clip, frames=8, size=(120, 160))
    assert main(["bench", "--source", str(clip), "--frames", "6", "--size", "64",
                 "--live-seconds", "1", "--rounds", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    fps = report["throughput_fps"]
    # smoothing and refinement on, then off; the default (fused) model against the original
    # network it builds on, alone and in the pipeline with both clean-ups off
    assert set(fps) == {"model_only", "model_only_one_at_a_time", "pipeline", "naive",
                        "pipeline_masks_off", "model_only_original",
                        "pipeline_original_masks_off"}
    assert min(fps.values()) > 0 and report["config"]["frames_in_flight"] == 2  # on a CPU
    assert report["config"]["frames"] == 6 and report["config"]["source_size"] == [160, 120]
    assert report["config"]["input_size"] == [64, 96]
    assert {"decode", "preprocess", "infer", "postprocess", "encode"} <= set(report["stages_ms"])
    assert all(s["n"] == 18 and s["p95_ms"] >= 0 for s in report["stages_ms"].values())
    rounds = report["rounds_fps"]
    assert len(rounds) == 3 and report["config"]["rounds"] == 3
    # Figures are medians over rounds; ratios are medians of each round's own ratio.
    assert fps["pipeline"] == sorted(r["pipeline"] for r in rounds)[1]
    assert report["ratios"]["pipeline_vs_model"] == sorted(
        r["pipeline"] / r["model_only"] for r in rounds)[1]
    assert report["ratios"]["masks_on_vs_off"] == sorted(
        r["pipeline"] / r["pipeline_masks_off"] for r in rounds)[1]
    assert report["ratios"]["pipeline_vs_original_masks_off"] == sorted(
        r["pipeline"] / r["pipeline_original_masks_off"] for r in rounds)[1]
    assert report["ratios"]["pipeline_vs_original_model"] == sorted(
        r["pipeline"] / r["model_only_original"] for r in rounds)[1]
    live = report["live"]
    assert live["shown"] > 0 and live["bound_ms"] > 0 and report["rss_mb"]["end"] > 0
    assert 0 <= live["over_own_bound"] <= live["shown"]
    # two workers on this CPU, the same with one for comparison, and the camera's pace
    assert live["workers"] == 2 and live["display_fps"] > 0 and live["dropped"] >= 0
    assert report["live_one_worker"]["workers"] == 1
    assert report["live_one_worker"]["bound_ms"] > 0
    pace = report["live_camera_pace"]
    assert pace["pace"] == "camera" and pace["camera_fps"] == 30.0
    assert pace["display_fps"] > 0 and pace["mask_age_p95_ms"] >= pace["latency_p95_ms"] > 0


def test_bench_with_one_worker_has_no_comparison_row(tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    make_clip(clip, frames=4, size=(64, 96))
    assert main(["bench", "--source", str(clip), "--frames", "3", "--size", "64", "--rounds",
                 "1", "--live-seconds", "0.5", "--workers", "1", "--threads", "1",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["live"]["workers"] == 1 and report["live"]["threads_per_worker"] == 1
    assert "live_one_worker" not in report and report["live_camera_pace"]["workers"] == 1


def test_bench_table(tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    make_clip(clip, frames=4, size=(64, 96))
    assert main(["bench", "--source", str(clip), "--frames", "3", "--size", "64",
                 "--live-seconds", "0.5"]) == 0
    out = capsys.readouterr().out
    for needle in ("model only, 2 frames in flight", "model only, 1 frame at a time",
                   "pipeline (end to end), 2 frames in flight", "naive sequential loop",
                   "live (newest result)", "live, one worker", "live at the camera's pace",
                   "bound for the newest result", "RSS", "original network alone",
                   "original network, pipeline, both off"):
        assert needle in out
