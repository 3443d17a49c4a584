"""Every numeric option of every command, found in the parser itself: whatever text is given,
the command either gets a finite number within the option's range or is refused before
anything runs, with exit 2 and one line naming the option. An option added later is covered
(and fails here until it has a range in NUMBER_RANGES)."""

from __future__ import annotations

import argparse
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livesegment import cli
from livesegment.cli import build_parser, main
from livesegment.cli.options import NUMBER_RANGES, Range

# The least each command needs besides the option under test (its run is replaced: only
# parsing and the checks before it are exercised).
MINIMAL = {"process": ["process", "in.mp4", "-o", "out.mp4"], "live": ["live", "-o", "r.mp4"],
           "bench": ["bench"], "train": ["train", "data", "-o", "m.pt"],
           "export": ["export", "espnetv2-voc", "-o", "m.onnx"],
           "eval": ["eval", "espnetv2-voc", "data/"]}


def _parses_numbers(kind) -> bool:
    try:
        return isinstance(kind("1"), (int, float))
    except (ValueError, TypeError, argparse.ArgumentTypeError):
        return False


def numeric_options() -> list[tuple[str, str, str]]:
    """(command, flag, dest) of every option whose type turns text into a number."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [(command, action.option_strings[-1], action.dest)
            for command, sub in commands.choices.items() for action in sub._actions
            if action.option_strings and callable(action.type) and _parses_numbers(action.type)]


OPTIONS = numeric_options()


def test_every_numeric_option_has_a_range():
    assert len(OPTIONS) >= 25  # process, live and bench: size, times, widths, workers ...
    assert {dest for _, _, dest in OPTIONS} <= set(NUMBER_RANGES)
    assert {command for command, _, _ in OPTIONS} <= set(MINIMAL)


TEXTS = st.one_of(
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=-2000, max_value=2000).map(lambda v: f"{v:.3f}"),
    st.sampled_from(["nan", "NaN", "-nan", "inf", "-inf", "infinity", "1e309", "-0", "0",
                     "1", "", " ", "abc", "1:nan", "1:inf", "0:30", "1:2:3:4", "0x10",
                     "1_000", "\u0663", "auto"]),
    st.text(max_size=6),
)


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(OPTIONS), text=TEXTS)
def test_numeric_options_are_in_range_or_refused_in_one_line(option, text, monkeypatch,
                                                             capsys):
    command, flag, dest = option
    got: list[argparse.Namespace] = []
    monkeypatch.setattr(cli.COMMANDS[command], "run", lambda args: got.append(args) or 0)
    try:
        code = main([*MINIMAL[command], f"{flag}={text}"])
    except SystemExit as exc:  # argparse's own refusal (not a number at all)
        code = exc.code
    err = capsys.readouterr().err.strip()
    if code == 0:
        value = getattr(got[0], dest)
        if value == "auto":
            assert flag == "--size" and command == "live"
        else:
            assert isinstance(value, (int, float)) and math.isfinite(value)
            assert NUMBER_RANGES[dest].holds(value), (flag, text, value)
    else:
        assert code == 2 and not got
        assert len(err.splitlines()) == 1 and err.startswith("livesegment: ") and flag in err


@pytest.mark.parametrize(("args", "line"), [
    (["process", "in.mp4", "-o", "o.mp4", "--feather", "1000000000"],
     "livesegment: --feather 1000000000 is outside 0..1000 pixels"),
    (["process", "in.mp4", "-o", "o.mp4", "--grow=-5000"],
     "livesegment: --grow -5000 is outside -1000..1000 pixels"),
    (["process", "in.mp4", "-o", "o.mp4", "--end", "nan"],
     "livesegment: argument --end: time 'nan' is not seconds or [hh:]mm:ss (see "
     "'livesegment process --help')"),
    (["live", "-o", "r.mp4", "--duration", "inf"],
     "livesegment: argument --duration: 'inf' is not a finite number (see 'livesegment live "
     "--help')"),
    (["live", "-o", "r.mp4", "--duration", "0"],
     "livesegment: --duration 0.0 is outside 0..31622400 s (0 excluded)"),
    (["process", "in.mp4", "-o", "o.mp4", "--size", "100000"],
     "livesegment: --size 100000 is outside 1..1448 pixels"),
    (["bench", "--live-seconds", "1e9"],
     "livesegment: --live-seconds 1000000000.0 is outside 0..3600 s (0 excluded)"),
])
def test_refusals_name_the_option_and_the_range(monkeypatch, capsys, args, line):
    monkeypatch.setattr(cli.COMMANDS[args[0]], "run", lambda a: pytest.fail("ran"))
    try:
        code = main(args)
    except SystemExit as exc:
        code = exc.code
    assert code == 2 and capsys.readouterr().err == line + "\n"


def test_worker_and_thread_counts_are_bounded_by_the_machine(monkeypatch, capsys):
    monkeypatch.setattr(cli.COMMANDS["live"], "run", lambda a: pytest.fail("ran"))
    assert main(["live", "-o", "r.mp4", "--workers", "5000"]) == 2
    assert "--workers 5000 is outside 1.." in capsys.readouterr().err
    assert main(["live", "-o", "r.mp4", "--threads", "5000"]) == 2
    assert "--threads 5000 is outside 1.." in capsys.readouterr().err


@pytest.mark.parametrize(("allowed", "text"), [
    (Range(0, 1), "0..1"),
    (Range(0, 500, "pixels", open_low=True), "0..500 pixels (0 excluded)"),
    (Range(0, 1, open_high=True), "0..1 (1 excluded)"),
    (Range(-1000, 1000, "pixels"), "-1000..1000 pixels"),
])
def test_ranges_read_as_they_are(allowed, text):
    assert str(allowed) == text
    assert not allowed.holds(math.nan) and not allowed.holds(math.inf)


@pytest.mark.parametrize(("raw", "shown"), [
    ("plain words", "plain words"),
    ("a\rb", "a\\rb"),              # a carriage return would overwrite the line on a terminal
    ("x\ny", "x\\ny"),
    ("tab\there", "tab\\there"),
    ("esc\x1b[31m", "esc\\x1b[31m"),  # no terminal colour codes smuggled in
    ("del\x7f", "del\\x7f"),
    ("é ü 名前", "é ü 名前"),         # printable text stays as it is
])
def test_one_line_escapes_control_characters_only(raw, shown):
    from livesegment.cli.console import one_line

    assert one_line(raw) == shown


@pytest.mark.parametrize("value", ["\r", "1\n0", "\x1b[2J"])
def test_an_option_value_with_control_characters_is_refused_on_one_line(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "data", "-o", "m.pt", "--time", value])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.splitlines()) == 1 and "--time" in err
