"""A run's record for people: results.csv, a curves picture and the confusion matrix.

Written after each validation (results.csv) and at the end (pictures), each atomically, so a
spreadsheet or viewer never opens half a file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from livesegment.errors import OutputError
from livesegment.io.eval_report import confusion_picture
from livesegment.io.images import write_image
from livesegment.io.paths import atomic_target

FONT = cv2.FONT_HERSHEY_SIMPLEX


def row(step: int, epoch: float, seconds: float, lr: float, loss: float | None,
        shown: dict[str, Any]) -> dict[str, Any]:
    """One validation's line: where the run was and the figures it reached."""
    out = {"step": step, "epoch": round(epoch, 3), "seconds": round(seconds, 2),
           "lr": lr, "train_loss": loss}
    for key in ("miou", "foreground_miou", "pixel_accuracy"):
        out[key] = shown.get(key)
    for name, value in shown.get("iou", {}).items():
        out[f"iou_{name}"] = value
    return out


def write_results(run_dir: Path, history: Sequence[dict[str, Any]],
                  classes: Sequence[str]) -> None:
    """results.csv: a line per validation; empty cells where a figure has no meaning."""
    columns = ["step", "epoch", "seconds", "lr", "train_loss", "miou", "foreground_miou",
               "pixel_accuracy"] + [f"iou_{c}" for c in classes]
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for line in history:
        writer.writerow({k: _cell(v) for k, v in line.items()})
    path = run_dir / "results.csv"
    try:
        with atomic_target(path) as tmp:
            tmp.write_text(text.getvalue())
    except OSError as exc:
        raise OutputError(f"cannot write {path} ({exc.strerror or exc})") from None


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else value


def draw_curves(run_dir: Path, history: Sequence[dict[str, Any]],
                size: tuple[int, int] = (360, 960)) -> None:
    """curves.png: training loss (left) and validation mIoU (right) against the step."""
    h, w = size
    canvas = np.full((h, w, 3), 255, np.uint8)
    steps = [r["step"] for r in history]
    panels = ((("train_loss", (200, 80, 30)),), (("miou", (40, 40, 200)),
                                                 ("foreground_miou", (40, 160, 40))))
    for k, series in enumerate(panels):
        box = (k * w // 2 + 50, 30, w // 2 - 70, h - 70)  # x, y, width, height
        _plot(canvas, box, steps, [[r.get(key) for r in history] for key, _ in series],
              [colour for _, colour in series], [key for key, _ in series])
    write_image(run_dir / "curves.png", canvas, "training curves ")


def _plot(canvas: np.ndarray, box: tuple[int, int, int, int], xs: list[int],
          series: list[list[float | None]], colours: list[tuple[int, int, int]],
          names: list[str]) -> None:
    x0, y0, bw, bh = box
    cv2.rectangle(canvas, (x0, y0), (x0 + bw, y0 + bh), (0, 0, 0), 1)
    values = [v for s in series for v in s if v is not None]
    if not xs or not values:
        return
    lo, hi = min(0.0, min(values)), max(values) or 1.0
    x_hi = max(xs) or 1
    for s, colour, name in zip(series, colours, names):
        points = [(x0 + int(bw * x / x_hi), y0 + bh - int(bh * (v - lo) / (hi - lo or 1)))
                  for x, v in zip(xs, s) if v is not None]
        if len(points) > 1:
            cv2.polylines(canvas, [np.array(points, np.int32)], False, colour, 2, cv2.LINE_AA)
        for p in points:
            cv2.circle(canvas, p, 3, colour, -1, cv2.LINE_AA)
    legend = "  ".join(names) + f"   (0 .. {hi:.3g}, step 0 .. {x_hi})"
    cv2.putText(canvas, legend, (x0, y0 + bh + 25), FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)


def draw_confusion(run_dir: Path, matrix: np.ndarray, classes: Sequence[str]) -> None:
    """confusion.png: the best validation's matrix, drawn as ``eval`` draws it."""
    write_image(run_dir / "confusion.png", confusion_picture(matrix, tuple(classes)),
                "confusion matrix ")
