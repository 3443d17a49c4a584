"""The whole loop of README's "Label your own footage", run once as a user would, and timed:
label a few frames of a video in the labelling window, let the masks be carried through the
rest, "Train on these labels…", then use the model on frames it never saw.

    QT_QPA_PLATFORM=offscreen python benchmarks/label_train_live.py \
        [--sequence blackswan] [--keyframes 3] [--train-minutes 4] [--work DIR]

Footage: a DAVIS 2016 sequence (``../shared/datasets/davis-2016``, per-frame human masks),
encoded with the project's own video writer into a work folder (never into the repository):
the first frames are the video to label, the last ``--held-out`` frames a video the training
never sees. The user is simulated by the click protocol of the field (core/select/protocol.py:
each next click at the centre of the largest wrong region against the human mask, include
for a miss, exclude for a false area) and drives the real window offscreen: mouse clicks on
its canvas, the Enter key, the "Train on these labels…" action and the dialog's "Use as live
model" button. Then ``livesegment process`` (IoU against the human masks, on the held-out
frames and on the labelled ones) and ``livesegment live`` (fps, at the video's own pace) run
as commands with ``--model`` the trained file; the base model's answer for the same object
(``--baseline MODEL:CLASS``) on the held-out frames, and its live fps, are measured beside.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt6.QtCore import Qt  # noqa: E402
from PyQt6.QtTest import QTest  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from label_window import spin_until  # noqa: E402  (benchmarks/label_window.py)
from livesegment.cli.label import class_names, open_store  # noqa: E402
from livesegment.core.models.zoo import get_spec  # noqa: E402
from livesegment.core.select import iou, next_click  # noqa: E402
from livesegment.gui.label.window import LabelWindow  # noqa: E402
from livesegment.io.video.sink import VideoFileSink  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
RATE = 24  # DAVIS was filmed at 24 fps


@dataclass(frozen=True)
class Footage:
    """The sequence's frames (BGR) and human masks (bool), split into the part to label and
    the held-out part."""

    frames: list[np.ndarray]
    truths: list[np.ndarray]
    labelled: int  # frames [0, labelled) are the video to label; the rest are held out


@dataclass(frozen=True)
class Labelling:
    """What the simulated user did in the window, frame by frame."""

    clicks: dict[int, int]        # keyframe -> clicks it took
    click_ms: list[float]         # each click to its mask on screen
    prepare_s: list[float]        # each keyframe shown and its picture prepared
    accepted_iou: dict[int, float]
    carry_s: list[float]          # each accept's carrying, until the run ended
    seconds: float                # the whole sitting, carrying included


def read_sequence(root: Path, name: str, held_out: int, limit: int | None) -> Footage:
    pictures = sorted((root / "JPEGImages" / "480p" / name).glob("*.jpg"))[:limit]
    if not pictures:
        raise SystemExit(f"no frames of {name} under {root}")
    frames = [cv2.imread(str(p)) for p in pictures]
    truths = [cv2.imread(str(root / "Annotations" / "480p" / name / f"{p.stem}.png"),
                         cv2.IMREAD_GRAYSCALE) > 127 for p in pictures]
    return Footage(frames, truths, len(frames) - held_out)


def encode(path: Path, frames: list[np.ndarray]) -> Path:
    """A video of ``frames`` with the project's own writer (H.264, quality 16: near the
    JPEG frames DAVIS ships, so the human masks still fit the decoded pictures)."""
    height, width = frames[0].shape[:2]
    sink = VideoFileSink(path, width, height, Fraction(1, RATE), Fraction(RATE), crf=16)
    for i, frame in enumerate(frames):
        sink.write(frame, i / RATE)
    return sink.finish()


def shown(window: LabelWindow) -> bool:
    key = window.key
    return (key is not None and window.sitting.sheet(key) is not None
            and window.canvas.composed() is not None and window.sitting.idle())


def press(window: LabelWindow, key: Qt.Key) -> None:
    QTest.keyClick(window.canvas, key)
    spin_until(lambda: window.sitting.idle())


def click(window: LabelWindow, x: int, y: int, include: bool) -> float:
    """A mouse click on the canvas over picture pixel (x, y); ms until its mask is painted."""
    button = Qt.MouseButton.LeftButton if include else Qt.MouseButton.RightButton
    QTest.mouseClick(window.canvas, button, Qt.KeyboardModifier.NoModifier,
                     window.canvas.to_widget(x, y).toPoint())
    spin_until(lambda: window.sitting.idle() and window._clicked_at is None)
    return window.last_answer_ms


def label_keyframe(window: LabelWindow, index: int, truth: np.ndarray, target: float,
                   max_clicks: int, times: list[float]) -> tuple[int, float]:
    """Protocol clicks on frame ``index`` until the object reaches ``target`` IoU (or
    ``max_clicks``), then Enter; returns the clicks and the accepted IoU."""
    valid = np.ones(truth.shape, bool)
    done = 0
    for done in range(1, max_clicks + 1):
        prompt = next_click(window.sitting.sheet(window.key).now.mask, truth, valid)
        if prompt is None:
            break
        times.append(click(window, prompt.x, prompt.y, prompt.include))
        if iou(window.sitting.sheet(window.key).now.mask, truth, valid) >= target:
            break
    got = iou(window.sitting.sheet(window.key).now.mask, truth, valid)
    press(window, Qt.Key.Key_Return)
    spin_until(lambda: window.store.status(window.key) is not None
               and window.store.status(window.key).human)
    return done, got


def keyframes(count: int, frames: int) -> list[int]:
    """``count`` frames spread evenly from the first to the last."""
    if count <= 1:
        return [0]
    return sorted({round(i * (frames - 1) / (count - 1)) for i in range(count)})


def label_video(window: LabelWindow, footage: Footage, args: argparse.Namespace) -> Labelling:
    """The user's sitting: each keyframe clicked and accepted, its carrying waited for."""
    start = time.perf_counter()
    clicks, accepted, click_ms, prepare_s, carry_s = {}, {}, [], [], []
    press(window, Qt.Key.Key_1)  # the user's class (the first after background)
    for index in keyframes(args.keyframes, footage.labelled):
        began, carrying, moved = time.perf_counter(), window.carrier.run, window.index != index
        window.timeline.slider.setValue(index)
        spin_until(lambda: window.index == index and shown(window))
        if moved:  # the window's first frame was prepared before the sitting began
            prepare_s.append(time.perf_counter() - began)
        clicks[index], accepted[index] = label_keyframe(
            window, index, footage.truths[index], args.target_iou, args.max_clicks, click_ms)
        began = time.perf_counter()
        spin_until(lambda: window.carrier.run is not carrying and not window.carrier.running
                   and window.sitting.idle(), timeout_s=600)
        carry_s.append(time.perf_counter() - began)
        spin_until(lambda: True)  # the run's summary, queued to the status bar
        print(f"  frame {index}: {clicks[index]} clicks, IoU {accepted[index]:.3f}, carried "
              f"in {carry_s[-1]:.1f} s ({window.statusBar().currentMessage()})", flush=True)
    return Labelling(clicks, click_ms, prepare_s, accepted, carry_s,
                     time.perf_counter() - start)


def carried_scores(window: LabelWindow, footage: Footage) -> tuple[float, int, int]:
    """Mean IoU of the carried frames' masks against the human ones, how many were carried,
    and how many the timeline marks for a look."""
    from livesegment.gui.label.timeline import Mark

    store, scores = window.store, []
    for i, key in enumerate(store.keys()):
        status = store.status(key)
        if status is not None and not status.human:
            truth = footage.truths[i]
            scores.append(iou(store.labels(key) == 1, truth, np.ones(truth.shape, bool)))
    looks = sum(m is Mark.LOOK for m in window.timeline.marks().values())
    return float(np.mean(scores)) if scores else float("nan"), len(scores), looks


def train_in_window(window: LabelWindow, output: Path, minutes: float) -> tuple[float, str]:
    """File > Train on these labels…, answered with ``output`` and ``minutes``; waits for
    the dialog's end and takes "Use as live model". Returns seconds and the dialog's text."""
    offered: list[str] = []
    window.model_ready.connect(offered.append)
    window.ask_training = lambda _parent, _suggested: (output, minutes, False)
    start = time.perf_counter()
    window.actions_by_name["Train on these labels"].trigger()
    dialog = window.training
    if dialog is None:
        raise SystemExit(f"training did not start: {window.statusBar().currentMessage()}")
    # the dialog's end: its run stopped and its answer (queued to this thread) shown
    spin_until(lambda: not dialog.running and dialog.cancel_button.text() == "Close",
               timeout_s=minutes * 60 * 3 + 300)
    seconds = time.perf_counter() - start
    text = dialog.status.text()
    if not dialog.use_button.isEnabled():
        raise SystemExit(f"training gave no model: {text}")
    dialog.use_button.click()
    spin_until(lambda: bool(offered))
    return seconds, text


def command(*args: str) -> tuple[float, str]:
    """``livesegment ARGS`` as a user types it; seconds and its stderr (it must succeed)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "livesegment", *args], capture_output=True,
                          text=True)
    if done.returncode:
        raise SystemExit(f"livesegment {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - start, done.stderr


def process_ious(video: Path, model: str, masks: Path, class_id: int,
                 truths: list[np.ndarray]) -> tuple[list[float], float]:
    """``livesegment process VIDEO --model M --masks DIR``: per-frame IoU of class
    ``class_id`` against ``truths``, and the command's seconds."""
    seconds, _ = command("process", str(video), "-o", str(masks.with_suffix(".mp4")),
                         "--model", model, "--masks", str(masks), "--quiet")
    written = sorted(masks.glob("*.png"))
    if len(written) != len(truths):
        raise SystemExit(f"process wrote {len(written)} masks for {len(truths)} frames")
    scores = [iou(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) == class_id, t,
                  np.ones(t.shape, bool)) for p, t in zip(written, truths)]
    return scores, seconds


def live_fps(video: Path, model: str, output: Path) -> tuple[str, float]:
    """``livesegment live --source VIDEO --model M -o OUT``: its closing line, and fps."""
    _, err = command("live", "--source", str(video), "--model", model, "-o", str(output),
                     "--quiet")
    line = next((l for l in err.splitlines() if l.startswith("live finished")), err.strip())
    found = re.search(r"\(([\d.]+) fps\)", line)
    return line, float(found.group(1)) if found else float("nan")


def class_id_of(model: str, name: str) -> int:
    names = [c.lower() for c in get_spec(model).categories]
    if name.lower() not in names:
        raise SystemExit(f"{model} has no class {name!r}: {', '.join(names)}")
    return names.index(name.lower())


@dataclass(frozen=True)
class WindowRun:
    """The window's part of the loop: labelling, carrying and training, timed."""

    opened_s: float               # the label folder made from the video
    ready_s: float                # ... and the window on its first frame, ready for clicks
    labelling: Labelling
    carried_iou: float
    carried: int
    looks: int
    train_s: float
    trained: str                  # the training dialog's last words


@dataclass(frozen=True)
class Use:
    """The trained model used by the commands, with the base model beside it."""

    unseen: list[float]           # IoU per held-out frame
    seen: list[float]             # IoU per labelled frame
    base: list[float]             # the base model's IoU per held-out frame
    process_s: float
    live: str                     # live's closing lines: trained, base
    base_live: str
    ratio: float                  # trained fps / base fps


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "datasets" / "davis-2016")
    parser.add_argument("--sequence", default="blackswan")
    parser.add_argument("--class-name", default="swan", help="the user's class")
    parser.add_argument("--frames", type=int, default=None,
                        help="only the first N frames (a quick try of the script)")
    parser.add_argument("--held-out", type=int, default=15, help="last N frames never labelled")
    parser.add_argument("--keyframes", type=int, default=3, help="frames the user clicks on")
    parser.add_argument("--target-iou", type=float, default=0.90)
    parser.add_argument("--max-clicks", type=int, default=10)
    parser.add_argument("--train-minutes", type=float, default=4.0)
    parser.add_argument("--baseline", default="espnetv2-voc:bird",
                        help="MODEL:CLASS that already knows the object, measured beside")
    parser.add_argument("--live-loops", type=int, default=3,
                        help="the live video: the sequence forwards and back this many times")
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: temp)")
    return parser.parse_args()


def sit(video: Path, footage: Footage, model: Path, args: argparse.Namespace) -> WindowRun:
    """``livesegment label VIDEO -o FOLDER --classes NAME``, the clicks, the carrying, then
    "Train on these labels…" into ``model``."""
    app = QApplication.instance() or QApplication([])
    started = time.perf_counter()
    store = open_store(video, video.with_name(f"{video.stem}-labels"),
                       class_names(args.class_name))
    opened_s = time.perf_counter() - started
    window = LabelWindow(store)
    window.show()
    spin_until(lambda: shown(window), timeout_s=300)
    ready_s = time.perf_counter() - started
    labelling = label_video(window, footage, args)
    carried_iou, carried, looks = carried_scores(window, footage)
    train_s, trained = train_in_window(window, model, args.train_minutes)
    window.close()
    app.processEvents()
    return WindowRun(opened_s, ready_s, labelling, carried_iou, carried, looks, train_s, trained)


def use(model: Path, videos: dict[str, Path], footage: Footage,
        args: argparse.Namespace, work: Path) -> Use:
    """The commands with ``--model``: process (IoU) and live (fps), the base model beside."""
    cut = footage.labelled
    ours = class_id_of(str(model), args.class_name)
    unseen, process_s = process_ious(videos["held"], str(model), work / "held-masks", ours,
                                     footage.truths[cut:])
    seen, _ = process_ious(videos["label"], str(model), work / "seen-masks", ours,
                           footage.truths[:cut])
    base_model, base_class = args.baseline.split(":")
    base, _ = process_ious(videos["held"], base_model, work / "base-masks",
                           class_id_of(base_model, base_class), footage.truths[cut:])
    live, fps = live_fps(videos["live"], str(model), work / "live.mp4")
    base_live, base_fps = live_fps(videos["live"], base_model, work / "live-base.mp4")
    return Use(unseen, seen, base, process_s, live, base_live, fps / base_fps)


def listed(values, form: str) -> str:
    return ", ".join(format(v, form) for v in values)


def report(sitting: WindowRun, used: Use, args: argparse.Namespace,
           loads: list[tuple[float, float, float]]) -> None:
    labelling = sitting.labelling
    print("\n== the loop, once ==")
    print(f"label: folder made from the video in {sitting.opened_s:.1f} s, window on the first "
          f"frame (selector loaded, picture prepared) at {sitting.ready_s:.1f} s")
    print(f"label: {len(labelling.clicks)} keyframes {sorted(labelling.clicks)}, "
          f"{sum(labelling.clicks.values())} clicks ({listed(labelling.clicks.values(), 'd')});"
          f" a click's mask on screen median {statistics.median(labelling.click_ms):.0f} ms, "
          f"worst {max(labelling.click_ms):.0f} ms; a keyframe shown and prepared "
          f"{listed(labelling.prepare_s, '.1f')} s")
    print(f"label: accepted masks' IoU {listed(labelling.accepted_iou.values(), '.3f')}")
    print(f"carry: {sitting.carried} frames carried, mean IoU vs human "
          f"{sitting.carried_iou:.3f}, {sitting.looks} marked for a look; carrying "
          f"{sum(labelling.carry_s):.1f} s in all ({listed(labelling.carry_s, '.1f')} s after "
          "each accept)")
    print(f"label sitting, clicks to last carried frame: {labelling.seconds:.1f} s")
    print(f"train: {sitting.train_s:.0f} s in the window ('{args.train_minutes:g} minutes' "
          f"asked): {sitting.trained}")
    print(f"use: process --model on {len(used.unseen)} held-out frames: mean IoU "
          f"{np.mean(used.unseen):.3f} (min {min(used.unseen):.3f}), {used.process_s:.1f} s "
          f"for the command; on the {len(used.seen)} labelled frames {np.mean(used.seen):.3f}")
    print(f"use: base {args.baseline} on the held-out frames: mean IoU {np.mean(used.base):.3f}")
    print(f"live: {used.live} (the video's own pace: {RATE} fps)")
    print(f"live: base at its own size beside it: {used.base_live}; trained/base "
          f"{used.ratio:.2f}x")
    print("load average (1, 5, 15 min) at start, after training, at end: "
          + "; ".join(listed(load, '.1f') for load in loads))


def main() -> None:
    args = arguments()
    work = args.work or Path(tempfile.mkdtemp(prefix="label-loop-"))
    work.mkdir(parents=True, exist_ok=True)
    loads = [os.getloadavg()]
    footage = read_sequence(args.data, args.sequence, args.held_out, args.frames)
    cut, name = footage.labelled, args.sequence
    there_and_back = footage.frames + footage.frames[::-1]
    videos = {"label": encode(work / f"{name}.mp4", footage.frames[:cut]),
              "held": encode(work / f"{name}-held.mp4", footage.frames[cut:]),
              "live": encode(work / f"{name}-live.mp4", there_and_back * args.live_loops)}
    print(f"{name}: {cut} frames to label, {len(footage.frames) - cut} held out; "
          f"work folder {work}", flush=True)
    model = work / f"{name}.pt"
    sitting = sit(videos["label"], footage, model, args)
    loads.append(os.getloadavg())
    used = use(model, videos, footage, args, work)
    loads.append(os.getloadavg())
    report(sitting, used, args, loads)


if __name__ == "__main__":
    main()
