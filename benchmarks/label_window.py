"""The labelling window's responsiveness on 720p pictures, measured through the window itself
(offscreen Qt): from a click to its mask on screen, and what each kind of step costs.

    QT_QPA_PLATFORM=offscreen python benchmarks/label_window.py [--pictures 5] [--clicks 5]

Pictures: the first N of ../shared/datasets/grabcut scaled to 1280x720, in a fresh label
folder. On each, the simulated user of the click protocol (core/select/protocol.py: the next
click at the centre of the largest wrong region) clicks up to ``--clicks`` times; each
click's time is from the click to the window painting the answer (``last_answer_ms``), with
the selector guided by the default model (its per-picture work, ``set_image``, timed apart as
"prepare"). Then a brush stroke, an accept (with its save) and an undo are timed the same way.
Prints medians and the worst of each, and the window's own share of a click's time (the
time to the answer painted less the step's work on the worker: the queue, the copy, the
blend and the paint).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt6.QtCore import QEventLoop, QTimer  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from livesegment.core.select import next_click  # noqa: E402
from livesegment.gui.label.window import LabelWindow  # noqa: E402
from livesegment.io.datasets.labelstore import LabelStore  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
HD = (1280, 720)


def spin_until(done, timeout_s: float = 120.0) -> None:
    end = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > end:
            raise TimeoutError("the window did not answer")
        loop = QEventLoop()
        QTimer.singleShot(2, loop.quit)
        loop.exec()


def settled(window: LabelWindow) -> bool:
    return window.sitting.idle()


def timed(window: LabelWindow, act) -> float:
    """Milliseconds from ``act()`` to the sitting idle and its answer painted."""
    start = time.perf_counter()
    act()
    spin_until(lambda: settled(window))
    spin_until(lambda: True)  # the queued answers
    return (time.perf_counter() - start) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "datasets" / "grabcut")
    parser.add_argument("--pictures", type=int, default=5)
    parser.add_argument("--clicks", type=int, default=5)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    work = Path(tempfile.mkdtemp(prefix="label-bench-"))
    (work / "pics").mkdir()
    truths = {}
    for path in sorted((args.data / "images").glob("*.jpg"))[: args.pictures]:
        cv2.imwrite(str(work / "pics" / f"{path.stem}.png"),
                    cv2.resize(cv2.imread(str(path)), HD, interpolation=cv2.INTER_CUBIC))
        truth = cv2.imread(str(args.data / "masks" / f"{path.stem}.bmp"), cv2.IMREAD_GRAYSCALE)
        truths[f"{path.stem}.png"] = cv2.resize(truth, HD, interpolation=cv2.INTER_NEAREST)
    store = LabelStore.create(work / "labels", work / "pics", ["background", "object"])
    window = LabelWindow()
    window.show()
    prepare, clicks, firsts, strokes, accepts, undos = [], [], [], [], [], []
    overhead = []  # click -> shown, less the selector's own work on the worker
    start = time.perf_counter()
    window.set_store(store)
    spin_until(lambda: window.sitting.sheet(window.key) is not None and settled(window))
    load = (time.perf_counter() - start) * 1e3  # the selector's model loaded, first picture
    for i, key in enumerate(store.keys()):
        if i:
            prepare.append(timed(window, lambda: window.go(i)))
        truth, valid = truths[key] == 255, truths[key] != 128
        for n in range(args.clicks):
            click = next_click(window.sitting.sheet(key).now.mask, truth, valid)
            if click is None:
                break
            window.click(click.x, click.y, click.include)
            spin_until(lambda: settled(window) and window._clicked_at is None)
            (firsts if n == 0 else clicks).append(window.last_answer_ms)
            overhead.append(window.last_answer_ms - window.last_step_ms)
        strokes.append(timed(window, lambda: window.stroke([(100, 100), (300, 140)], 12, True)))
        accepts.append(timed(window, window.accept))
        undos.append(timed(window, window.undo))
    window.close()
    print(f"720p ({HD[0]}x{HD[1]}), {len(store.keys())} pictures; first picture with the "
          f"selector's model loaded: {load:.0f} ms")
    for name, values in (("prepare a picture (set_image)", prepare),
                         ("first click -> mask shown", firsts),
                         ("correction click -> mask shown", clicks),
                         ("  of which the window (not the selector)", overhead),
                         ("brush stroke -> shown + saved", strokes),
                         ("accept -> shown + saved", accepts),
                         ("undo -> shown + saved", undos)):
        if values:
            print(f"  {name:34s} median {statistics.median(values):6.0f} ms, "
                  f"worst {max(values):6.0f} ms ({len(values)})")
    app.quit()


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
