"""The labelling window's responsiveness on 720p pictures, measured through the window itself
(offscreen Qt): from a click to its mask on screen, and what each kind of step costs.

    QT_QPA_PLATFORM=offscreen python benchmarks/label_window.py [--pictures 5] [--clicks 5]

Pictures: the first N of ../shared/datasets/grabcut scaled to 1280x720, in a fresh label
folder. On each, the simulated user of the click protocol (core/select/protocol.py: the next
click at the centre of the largest wrong region) clicks up to ``--clicks`` times; each
click's time is from the click to the window painting the answer (``last_answer_ms``), with
the selector guided by the default model; on every picture after the first the user clicks
at once after stepping to it, and that is also timed from the step (the picture's
preparation for the selector is in it unless it was done ahead). Then a brush stroke, an
accept (with its save) and an undo are timed the same way.
Prints medians and the worst of each, and the window's own share of a click's time (the
time to the answer painted less the step's work on the worker: the queue, the copy, the
blend and the paint).

Two passes over the same pictures, in one run: without and with preparing ahead (the next
picture's selector work on its own thread while this one is clicked, gui/label/ahead.py).
With it, the user is taken to look at a picture at least as long as its successor takes to
prepare (the simulated user waits for it before stepping), and the clicks are split by
whether a preparation ahead was running beside them (``--nice``: that thread's priority).
Last, the selector's own click work without the window, alone and beside a preparation
that runs the whole time on another thread at nice 0 and at ``--nice``, as ratios to alone.
The machine's load average is printed with the figures: on a shared CPU they are inflated.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt6.QtCore import QEventLoop, QTimer  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from livesegment.core.select import next_click  # noqa: E402
from livesegment.gui.label import ahead  # noqa: E402
from livesegment.gui.label.window import LabelWindow  # noqa: E402
from livesegment.io.datasets.labelstore import LabelStore  # noqa: E402
from livesegment.pipeline.thread_setup import lower_priority  # noqa: E402

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


def one_pass(pictures: Path, truths: dict, folder: Path, clicks_per_picture: int,
             prepare_ahead: bool) -> dict[str, list[float]]:
    """Steps through the pictures clicking as the protocol's user; times in ms by kind."""
    store = LabelStore.create(folder, pictures, ["background", "object"])
    window = LabelWindow()
    window.prepare_ahead = prepare_ahead
    window.show()
    got: dict[str, list[float]] = {k: [] for k in (
        "load", "step", "first", "first beside", "click", "click beside", "overhead",
        "stroke", "accept", "undo")}
    start = time.perf_counter()
    window.set_store(store)
    spin_until(lambda: window.sitting.sheet(window.key) is not None and settled(window))
    got["load"].append((time.perf_counter() - start) * 1e3)
    for i, key in enumerate(store.keys()):
        truth, valid = truths[key] == 255, truths[key] != 128
        stepped = None
        if i:
            spin_until(window.sitting.prepared.idle)  # the user looked long enough
            stepped = time.perf_counter()
            window.go(i)  # and clicks at once: the picture is new, nothing drawn on it yet
        for n in range(clicks_per_picture):
            drawn = window.sitting.sheet(key)
            click = next_click(drawn.now.mask if drawn else np.zeros_like(truth), truth, valid)
            if click is None:
                break
            beside = window.sitting.prepared.preparing()
            window.click(click.x, click.y, click.include)
            spin_until(lambda: settled(window) and window._clicked_at is None)
            if stepped is not None and n == 0:
                got["step"].append((time.perf_counter() - stepped) * 1e3)
            name = ("first" if n == 0 else "click") + (" beside" if beside else "")
            got[name].append(window.last_answer_ms)
            if stepped is None or n:  # a click after a step also waits for the step
                got["overhead"].append(window.last_answer_ms - window.last_step_ms)
        got["stroke"].append(timed(window, lambda: window.stroke([(100, 100), (300, 140)], 12,
                                                                 True)))
        got["accept"].append(timed(window, window.accept))
        got["undo"].append(timed(window, window.undo))
    window.close()
    return got


ROWS = (("load", "first picture, selector's model loaded"),
        ("step", "step + first click at once -> mask shown"),
        ("first", "first click -> mask shown"),
        ("first beside", "  the same, beside a preparation ahead"),
        ("click", "correction click -> mask shown"),
        ("click beside", "  the same, beside a preparation ahead"),
        ("overhead", "  of which the window (not the selector)"),
        ("stroke", "brush stroke -> shown + saved"),
        ("accept", "accept -> shown + saved"),
        ("undo", "undo -> shown + saved"))


def figure(values: list[float]) -> str:
    if not values:
        return f"{'-':>22s}"
    return f"{statistics.median(values):6.0f} ({max(values):5.0f}) n={len(values):<3d}"


def beside_preparation(pictures: list[np.ndarray], truths: list[np.ndarray], clicks: int,
                       nices: tuple[int, ...]) -> dict[str, list[float]]:
    """The selector's own work for the protocol's clicks (no window), alone and with a
    preparation of another picture running the whole time on a second thread at each nice
    value: what preparing ahead costs a click. The modes take turns on each picture, in an
    order rotated from picture to picture, so the machine's load drifts alike on all."""
    from livesegment.core.select import Selector

    selector = Selector()
    modes = ["alone", *(f"nice {n}" for n in nices)]
    got: dict[str, list[float]] = {m: [] for m in modes}
    for i, (bgr, truth) in enumerate(zip(pictures, truths)):
        selector.set_image(bgr)
        other = pictures[(i + 1) % len(pictures)]
        turns = list(zip(modes, (None, *nices)))
        for mode, nice in turns[i % len(turns):] + turns[:i % len(turns)]:
            stop, started = threading.Event(), threading.Event()

            def prepare_on(nice: int = nice) -> None:
                lower_priority(nice)
                while not stop.is_set():
                    started.set()
                    selector.prepare(other)
            helper = threading.Thread(target=prepare_on, daemon=True) if nice is not None \
                else None
            if helper:
                helper.start()
                started.wait()
            mask, done = np.zeros(truth.shape, bool), []
            for _ in range(clicks):
                click = next_click(mask, truth == 255, truth != 128)
                if click is None:
                    break
                done.append((click.x, click.y, click.include))
                start = time.perf_counter()
                mask = selector.predict(done, previous=mask if mask.any() else None)
                got[mode].append((time.perf_counter() - start) * 1e3)
            stop.set()
            if helper:
                helper.join()
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "datasets" / "grabcut")
    parser.add_argument("--pictures", type=int, default=5)
    parser.add_argument("--clicks", type=int, default=5)
    parser.add_argument("--nice", type=int, default=ahead.NICE,
                        help="CPU priority of the preparing thread below the window's")
    args = parser.parse_args()
    ahead.NICE = args.nice
    app = QApplication.instance() or QApplication([])
    work = Path(tempfile.mkdtemp(prefix="label-bench-"))
    (work / "pics").mkdir()
    truths = {}
    for path in sorted((args.data / "images").glob("*.jpg"))[: args.pictures]:
        cv2.imwrite(str(work / "pics" / f"{path.stem}.png"),
                    cv2.resize(cv2.imread(str(path)), HD, interpolation=cv2.INTER_CUBIC))
        truth = cv2.imread(str(args.data / "masks" / f"{path.stem}.bmp"), cv2.IMREAD_GRAYSCALE)
        truths[f"{path.stem}.png"] = cv2.resize(truth, HD, interpolation=cv2.INTER_NEAREST)
    before = os.getloadavg()
    passes = {flag: one_pass(work / "pics", truths, work / f"labels-{flag}", args.clicks, flag)
              for flag in (False, True)}
    print(f"720p ({HD[0]}x{HD[1]}), {len(truths)} pictures, up to {args.clicks} clicks each; "
          f"load average before {before[0]:.2f}, after {os.getloadavg()[0]:.2f} "
          f"({os.cpu_count()} CPUs); preparing thread nice {args.nice}")
    print(f"  {'ms: median (worst) count':42s} {'without prepare-ahead':>22s}  "
          f"{'with prepare-ahead':>22s}")
    for name, label in ROWS:
        print(f"  {label:42s} {figure(passes[False][name])}  {figure(passes[True][name])}")
    pictures = [cv2.imread(str(work / "pics" / key)) for key in truths]
    before = os.getloadavg()
    beside = beside_preparation(pictures, list(truths.values()), args.clicks, (0, args.nice))
    alone = statistics.median(beside["alone"])
    print(f"the selector's click work, no window (load average before {before[0]:.2f}, after "
          f"{os.getloadavg()[0]:.2f}):")
    for mode, values in beside.items():
        label = "alone" if mode == "alone" else f"beside a preparation ahead, {mode}"
        print(f"  {label:42s} {figure(values)}  x{statistics.median(values) / alone:.2f}")
    app.quit()



if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
