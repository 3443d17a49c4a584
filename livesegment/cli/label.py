"""``livesegment label FOLDER|VIDEO [-o OUT]``: the labelling window on pictures or a video.

The label folder is made (or an earlier one opened, to continue) before any window opens, so
a missing input or an output folder that holds other files is a one-line error, exit 2,
and nothing is written over.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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


def run(args: argparse.Namespace) -> int:
    from livesegment.gui import check_display  # no Qt: nothing is made when no window can open

    check_display()
    store = open_store(args.source, args.output, class_names(args.classes))
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


def open_store(source: Path, output: Path | None, classes: list[str] | None):
    """The label folder: ``source`` itself when it is one, else made at ``output``."""
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
        store = LabelStore.create(target, source, classes)
    if classes:  # names asked for that an earlier sitting did not have yet
        have = {c.name.lower() for c in store.classes}
        extra = [n for n in classes if n.lower() not in have]
        if extra:  # each gets a colour no class has yet
            store.set_classes([*store.classes, *extra])
    return store
