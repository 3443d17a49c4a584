"""The command line's surface: torch-free --help/--version, model names, --debug, --classes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from livesegment.cli import main
from livesegment.cli.options import parse_classes, seconds as _seconds
from livesegment.cli.models import model_details
from livesegment.core.models.catalog import DEFAULT_MODEL, MODEL_NAMES
from livesegment.core.models.zoo import REGISTRY, get_spec
from livesegment.errors import InputError

PROBE = """
import sys
from livesegment.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print("TORCH" if "torch" in sys.modules else "NO-TORCH", file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["process", "--help"],
                                  ["models", "--help"]])
def test_help_and_version_answer_without_importing_torch(argv):
    proc = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True,
                          text=True, timeout=60)
    assert proc.stderr.strip().splitlines()[-1] == "NO-TORCH", proc.stderr
    assert "livesegment" in proc.stdout


def test_the_catalog_names_exactly_the_registry_models_in_order():
    assert DEFAULT_MODEL in REGISTRY
    # torchvision's models are offered only where torchvision imports; then all of them
    assert tuple(REGISTRY) == MODEL_NAMES[: len(REGISTRY)]
    assert len(REGISTRY) in (5, len(MODEL_NAMES))  # bundled only, or with torchvision's


def test_help_shows_examples_and_every_model(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "livesegment process --sample -o people-overlay.mp4" in out
    for name in MODEL_NAMES:
        assert name in out
    assert max(len(line) for line in out.splitlines()) <= 80


@pytest.mark.parametrize("argv", [
    ["--debug", "process", "{d}/absent.mp4", "-o", "{d}/o.mp4"],
    ["process", "{d}/absent.mp4", "-o", "{d}/o.mp4", "--debug"],
])
def test_debug_works_before_or_after_the_command(tmp_path, argv):
    with pytest.raises(InputError, match="input not found"):  # a traceback, not a one-liner
        main([a.format(d=tmp_path) for a in argv])


def test_without_debug_the_same_error_is_one_line(tmp_path, capsys):
    assert main(["process", str(tmp_path / "absent.mp4"), "-o", str(tmp_path / "o.mp4")]) == 2
    assert capsys.readouterr().err == f"livesegment: input not found: {tmp_path}/absent.mp4\n"


@pytest.mark.parametrize(("text", "ids"), [
    ("15,car", {15, 7}),
    ("person", {15}),
    ("0", {0}),
    ("20,Dining Table", {20, 11}),
    ("all", None),
    (None, None),
])
def test_classes_take_ids_and_names(text, ids):
    assert parse_classes(get_spec("espnetv2-voc"), text) == ids


@pytest.mark.parametrize(("text", "message"), [
    ("21", "class id 21 is out of range for model espnetv2-voc (0..20"),
    ("persn", "did you mean 'person'"),
    (" , ", "--classes is empty"),
])
def test_bad_classes_are_named(text, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_classes(get_spec("espnetv2-voc"), text)


def test_model_detail_lists_every_class_with_its_id_in_80_columns(capsys):
    assert main(["models", "espnetv2-cityscapes"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    cells = " ".join(out.split("classes (")[1].splitlines()[1:])
    spec = get_spec("espnetv2-cityscapes")
    for i, name in enumerate(spec.categories):
        assert f"{i} {name}" in cells
    assert model_details(spec, width=40).count("\n") > out.count("\n")  # narrower: more rows


@pytest.mark.parametrize(("text", "seconds"), [
    ("90", 90.0), ("1.5", 1.5), ("1:30", 90.0), ("0:01:30.5", 90.5), ("1:00:00", 3600.0),
])
def test_times_read_as_seconds_or_clock(text, seconds):
    assert _seconds(text) == seconds


@pytest.mark.parametrize("text", ["abc", "-1", "1:2:3:4", ""])
def test_bad_times_are_refused(text, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["process", "x.mp4", "-o", str(tmp_path / "o.mp4"), "--start", text])
    assert exit_.value.code == 2 and "is not seconds or [hh:]mm:ss" in capsys.readouterr().err
