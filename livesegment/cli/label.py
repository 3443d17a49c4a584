"""``livesegment label FOLDER|VIDEO [-o OUT]``: the labelling window on pictures or a video.

The label folder is made (or an earlier one opened, to continue) before any window opens, so
a missing input or an output folder that holds other files is a one-line error, exit 2,
and nothing is written over. Making one shows the progress bar; Ctrl-C (or SIGTERM) stops it
at the next frame and removes what it wrote, exit 130 (143): continuing a folder cut short
would extract it again from the start anyway.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from livesegment.cli.signals import StopOnSignal
from livesegment.errors import InputError

EXAMPLES = """\
examples:
  livesegment label photos/ --classes scratch,dent  # new folder photos-labels/
  livesegment label walk.mp4 -o walk-labels/         # a video's frames
  livesegment label walk-labels/                     # continue an earlier sitting
  livesegment train walk-labels/ -o walk.pt          # then learn the classes

keys: left click includes, right (or Shift+) click excludes, drag a box,
B brush, E eraser, [ ] brush size, Ctrl+Z / Ctrl+Shift+Z undo / redo,
Enter accepts into the selected class (1-9 choose it), Esc drops the object,
Ctrl+click picks a labelled object up to correct it, Left / Right step, N the
next frame that needs a look.
"""


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("label", parents=[common], help="label pictures or a video",
                       description="Label pictures or a video's frames with clicks, boxes "
                       "and a brush;\nthe folder is what train and eval read.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", type=Path, metavar="FOLDER|VIDEO",
                   help="a folder of pictures, a video, or a label folder to continue")
    p.add_argument("-o", "--output", type=Path, metavar="OUT",
                   help="the label folder to make (default: beside the input, NAME-labels)")
    p.add_argument("--classes", metavar="A,B",
                   help="class names to start with (background is class 0 and added)")
    p.add_argument("--model", help="model whose classes guide the clicks and that "
                   "'Segment with model' offers first")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from livesegment.cli.progress import ProgressBar
    from livesegment.gui import check_display  # no Qt: nothing is made when no window can open

    check_display()
    import livesegment.io.datasets.labelstore  # noqa: F401 - loaded (about a second) before
    # the bar's clock starts, so its rate and ETA are the frames' own
    bar = ProgressBar(enabled=not args.quiet, label=args.source.name)
    with StopOnSignal() as signals:
        try:
            store = open_store(args.source, args.output, class_names(args.classes),
                               counted(bar, signals.stop, args.source.is_file()))
        except Stopped as stopped:
            store, removed = None, stopped
        finally:
            bar.close()  # before the last line, so it ends on a line of its own
    if store is None:
        print(f"livesegment: interrupted; nothing kept of the unfinished label folder {removed}",
              file=sys.stderr)
        return signals.exit_code
    if signals.stop.is_set():  # after the last frame: the folder is whole, no window opens
        print(f"livesegment: interrupted; label folder {store.folder} is complete "
              f"(livesegment label {store.folder} opens it)", file=sys.stderr)
        return signals.exit_code
    from livesegment.gui.label.app import run_label  # Qt: only once the folder is ready

    return run_label(store, args.model)


def class_names(text: str | None) -> list[str] | None:
    """``a,b`` -> ["background", "a", "b"] (background kept first if given)."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError("--classes: expected names separated by commas, e.g. scratch,dent")
    rest = [n for n in names if n.lower() != "background"]
    return ["background", *rest]


class Stopped(Exception):
    """A signal came while the label folder was being made; says which folder."""


def counted(bar, stop: threading.Event, frames: bool = False):
    """The progress callback for making a folder: draws ``bar`` and, once ``stop`` is set,
    raises :class:`Stopped` (the store then removes what it wrote)."""
    started = time.monotonic()

    def progress(done: int, total: int | None) -> None:
        if stop.is_set():
            raise Stopped()
        bar.update_pictures(done, total or 0, time.monotonic() - started, frames)
    return progress


def open_store(source: Path, output: Path | None, classes: list[str] | None,
               progress=None):
    """The label folder: ``source`` itself when it is one, else made at ``output``
    (``progress(done, total)`` as its pictures or frames are written)."""
    from livesegment.gui.label import default_output
    from livesegment.io.datasets.labelfiles import is_label_folder
    from livesegment.io.datasets.labelstore import LabelStore

    if not source.exists():
        raise InputError(f"{source}: no such folder or video")
    if is_label_folder(source):
        if output is not None and output.resolve() != source.resolve():
            raise InputError(f"{source} is a label folder and is continued where it is; -o "
                             "names a new folder to make from pictures or a video")
        store = LabelStore.open(source)
    else:
        target = output or default_output(source)
        print(f"livesegment: label folder {target}", file=sys.stderr)
        try:
            store = LabelStore.create(target, source, classes, progress=progress)
        except Stopped:
            raise Stopped(target) from None
    if classes:  # names asked for that an earlier sitting did not have yet
        have = {c.name.lower() for c in store.classes}
        extra = [n for n in classes if n.lower() not in have]
        if extra:  # each gets a colour no class has yet
            store.set_classes([*store.classes, *extra])
    return store
