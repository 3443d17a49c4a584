"""``--smoothing`` and ``--refine/--no-refine``: parsed, checked, and handed to the job."""

from __future__ import annotations

import pytest

from livesegment.cli import build_parser, main
from livesegment.core.masks.smoothing import DEFAULT_SMOOTHING, MaskOptions
from tests.conftest import make_clip


@pytest.mark.parametrize("extra, expected", [
    ([], MaskOptions(DEFAULT_SMOOTHING, True)),  # both on by default
    (["--smoothing", "0"], MaskOptions(0.0, True)),
    (["--smoothing", "0.35", "--no-refine"], MaskOptions(0.35, False)),
    (["--smoothing", "1", "--refine"], MaskOptions(1.0, True)),
])
def test_mask_options_reach_the_job(tmp_path, monkeypatch, extra, expected):
    clip = tmp_path / "clip.mp4"
    make_clip(clip, frames=2)
    seen = {}

    def fake_process_file(*args, **kwargs):
        seen["options"] = kwargs["mask_options"]
        raise KeyboardInterrupt  # stop here: the options are what this test is about

    monkeypatch.setattr("livesegment.pipeline.job.process_file", fake_process_file)
    assert main(["process", str(clip), "-o", str(tmp_path / "o.mp4"), "--quiet",
                 "--size", "64", *extra]) == 130
    assert seen["options"] == expected


@pytest.mark.parametrize("command", ["process", "bench"])
@pytest.mark.parametrize("value, message", [
    ("1.5", "smoothing 1.5 is outside 0..1"),
    ("-0.1", "smoothing -0.1 is outside 0..1"),
    ("lots", "smoothing 'lots' is not a number"),
])
def test_bad_smoothing_is_one_clear_error(capsys, command, value, message):
    args = [command, "in.mp4", "-o", "o.mp4"] if command == "process" else [command]
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([*args, "--smoothing", value])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
