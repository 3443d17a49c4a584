"""Command line: ``livesegment process|models|bench|live|gui|eval|train|export|label``, a module
per command.

User errors print one line, ``livesegment: <message>``, and exit 2; Ctrl-C exits 130 and
SIGTERM 143 after finalising what was written. ``--debug`` shows tracebacks.

A command is a module with ``add_parser(sub, common)`` (its options; ``common`` carries
``--debug``) and ``run(args) -> exit code``, and one line in :data:`COMMANDS`. Shared options
are in ``options.py``, what is printed in ``console.py``, Ctrl-C handling in ``signals.py``.

Building the parser imports no torch (``--help`` and ``--version`` answer in a fraction of a
second): choices come from ``core/models/catalog.py`` and ``io/formats.py``; each command imports
what it runs. Keep it so: heavy imports go inside the ``run`` functions.
"""

from __future__ import annotations

import argparse
import signal
import sys
import textwrap
from collections.abc import Sequence

from livesegment import __version__
from livesegment.cli import bench, export, gui, label, live, models, process, train
from livesegment.cli import eval as evaluate
from livesegment.cli.allocator import keep_freed_memory
from livesegment.cli.console import EXIT_USAGE, one_line
from livesegment.cli.options import Parser, check_numbers
from livesegment.cli.signals import interrupt_on_sigterm
from livesegment.core.models.catalog import DEFAULT_MODEL, MODEL_NAMES
from livesegment.errors import LivesegmentError

# In the order ``--help`` lists them.
COMMANDS = {"process": process, "models": models, "bench": bench, "live": live, "gui": gui,
            "eval": evaluate, "train": train, "export": export, "label": label}

MAIN_EXAMPLES = """\
examples:
  livesegment process --sample -o people-overlay.mp4  # the bundled 30 s sample
  livesegment process walk.mp4 -o walk-overlay.mp4 --classes person,car
  livesegment process videos/ -o out/        # each video and picture in it
  livesegment process 0 -o cam.mp4 --duration 60   # camera 0 for a minute
  livesegment models espnetv2-voc            # a model's classes and their ids
  livesegment gui                            # the live window
  livesegment eval mediapipe-selfie photos/  # its figures on labelled pictures
  livesegment label walk.mp4 --classes guitar  # click your own classes
  livesegment train parts/ -o parts.pt --time 10m   # learn your own classes

{models}
"""


def _add_debug_option(p: argparse.ArgumentParser, default: object) -> None:
    """``--debug`` before or after the command: the sub-parser's copy must not reset it."""
    p.add_argument("--debug", action="store_true", default=default,
                   help="show tracebacks on errors")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="livesegment", description="Real-time semantic segmentation of cameras and videos.",
        epilog=MAIN_EXAMPLES.format(models=textwrap.fill(
            f"models (default {DEFAULT_MODEL}): {', '.join(MODEL_NAMES)}", 78,
            subsequent_indent="  ", break_on_hyphens=False)),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=version_text())
    _add_debug_option(parser, False)
    common = argparse.ArgumentParser(add_help=False)
    _add_debug_option(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS.values():
        command.add_parser(sub, common)
    return parser


def version_text() -> str:
    return f"livesegment {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    with interrupt_on_sigterm():  # from the first moment: a run's own handlers come later
        try:
            return _main(argv)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM before a run could stop cleanly
            print("livesegment: interrupted", file=sys.stderr)
            return 128 + getattr(exc, "signum", signal.SIGINT)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    keep_freed_memory()  # before torch allocates; why: cli/allocator.py
    try:
        check_numbers(args)
        return COMMANDS[args.command].run(args)
    except LivesegmentError as exc:
        if args.debug:
            raise
        print(f"livesegment: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except MemoryError:
        if args.debug:
            raise
        print("livesegment: out of memory; try a smaller --size", file=sys.stderr)
        return 1
    except Exception as exc:  # a disk or FFmpeg failure no layer turned into one of ours
        if args.debug or not (isinstance(exc, OSError) or type(exc).__module__.startswith("av")):
            raise
        from livesegment.errors import describe

        print(f"livesegment: {one_line(describe(exc))}", file=sys.stderr)
        return 1


def gui_main() -> int:
    """Entry point of the ``livesegment-gui`` launcher."""
    argv = sys.argv[1:]
    return main(["gui", *argv])
