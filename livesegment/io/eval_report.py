"""An evaluation's files: the figures as JSON or CSV, the confusion matrix as a picture, and a
grid of the worst pictures with their errors painted in.

Every file is written whole or not at all (a temporary name, then one rename).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np

from livesegment.core.metrics import Figure, mean
from livesegment.errors import OutputError
from livesegment.io.images import write_image
from livesegment.io.paths import atomic_target

PER_CLASS = ("iou", "dice", "precision", "recall", "boundary_f", "image_precision",
             "image_recall")
# Error colours (BGR) of the worst-pictures grid.
MISSED = (60, 60, 230)       # a class pixel called background
FALSE_ALARM = (40, 210, 250)  # background called a class
CONFUSED = (220, 80, 220)    # one class called another
FOUND = (90, 200, 90)        # class pixels found
IGNORED = (128, 128, 128)
TILE = 320
FONT = cv2.FONT_HERSHEY_SIMPLEX


def rounded(value: Figure, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def result_document(result) -> dict:
    """The whole result as plain JSON data (an ``EvalResult`` from pipeline/validate.py)."""
    s = result.scores
    columns = {name: getattr(s, name) for name in PER_CLASS}
    return {
        "model": result.model, "dataset": result.dataset, "size": result.size,
        "refine": result.refine, "tile": result.tile, "pictures": s.pictures,
        "interrupted": result.interrupted,
        "fps": rounded(result.fps, 3), "model_seconds": round(result.model_seconds, 3),
        "boundary_tolerance_px": s.tolerance, "contains_min_pixels": s.min_pixels,
        "map": {name: list(models) for name, models in result.mapping.pairs},
        "not_predicted": list(result.mapping.unpredicted),
        "miou": rounded(s.miou), "foreground_miou": rounded(s.foreground_miou),
        "pixel_accuracy": rounded(s.pixel_accuracy),
        "mean_boundary_f": rounded(s.mean_boundary_f),
        "classes": [{"name": name, "true_pixels": s.true_pixels[i],
                     **{k: rounded(v[i]) for k, v in columns.items()}}
                    for i, name in enumerate(s.classes)],
        "confusion": {"rows": "true class", "columns": "predicted class",
                      "pixels": s.matrix.tolist()},
        "worst": [{"name": w.name, "miou": rounded(w.score)} for w in result.worst],
    }


def write_json(result, path: Path) -> Path:
    text = json.dumps(result_document(result), indent=1) + "\n"
    return _write_text(path, text)


def write_csv(result, path: Path) -> Path:
    """One row per class, then a ``mean`` row over the classes where each figure exists."""
    s = result.scores
    columns = [getattr(s, name) for name in PER_CLASS]
    rows = [["class", *PER_CLASS, "true_pixels"]]
    for i, name in enumerate(s.classes):
        rows.append([name, *(cell(c[i]) for c in columns), s.true_pixels[i]])
    rows.append(["mean", *(cell(mean(c)) for c in columns), sum(s.true_pixels)])
    path = Path(path)
    try:
        with atomic_target(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from None
    return path


def cell(value: Figure) -> str:
    return "" if value is None else f"{value:.6f}"


def _write_text(path: Path, text: str) -> Path:
    path = Path(path)
    try:
        with atomic_target(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from None
    return path


def confusion_picture(matrix: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """Rows normalised (each true class's pixels sum to 100 %), darker = more; the share in
    each cell. Rows are true classes, columns predicted ones."""
    n = len(classes)
    cellsize = 56 if n <= 12 else 34
    margin = 12 + 9 * max(len(c) for c in classes)
    totals = matrix.sum(1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    side = margin + n * cellsize + 12
    out = np.full((side + 24, max(side, 330), 3), 255, np.uint8)
    top = margin + 24
    for r in range(n):
        for c in range(n):
            level = int(255 - 200 * shares[r, c])
            x, y = margin + c * cellsize, top + r * cellsize
            out[y:y + cellsize - 1, x:x + cellsize - 1] = (255, level, level)
            if totals[r, 0] and n <= 24:
                text = f"{100 * shares[r, c]:.0f}"
                colour = (255, 255, 255) if shares[r, c] > 0.6 else (40, 40, 40)
                cv2.putText(out, text, (x + 6, y + cellsize // 2 + 5), FONT, 0.42, colour, 1,
                            cv2.LINE_AA)
        cv2.putText(out, classes[r], (6, top + r * cellsize + cellsize // 2 + 5), FONT, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
    for c in range(n):  # column names written upwards
        label = np.full((20, margin, 3), 255, np.uint8)
        cv2.putText(label, classes[c], (4, 15), FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        turned = cv2.rotate(label, cv2.ROTATE_90_COUNTERCLOCKWISE)
        x = margin + c * cellsize + (cellsize - 20) // 2
        out[24:24 + margin, x:x + 20] = turned
    cv2.putText(out, "rows: true, columns: predicted (% of row)", (6, 16), FONT, 0.45,
                (0, 0, 0), 1, cv2.LINE_AA)
    return out


def error_picture(image: np.ndarray, truth: np.ndarray, prediction: np.ndarray,
                  background: int, ignore: int = 255) -> np.ndarray:
    """The picture with each pixel's outcome painted over it at half strength."""
    paint = np.zeros_like(image)
    counted = truth != ignore
    wrong = counted & (truth != prediction)
    layers = ((counted & ~wrong & (truth != background), FOUND),
              (wrong & (prediction == background), MISSED),
              (wrong & (truth == background), FALSE_ALARM),
              (wrong & (truth != background) & (prediction != background), CONFUSED),
              (~counted, IGNORED))
    touched = np.zeros(truth.shape, bool)
    for where, colour in layers:
        paint[where] = colour
        touched |= where
    out = image.copy()
    out[touched] = (image[touched] // 2 + paint[touched] // 2)
    return out


def worst_grid(worst, background: int, columns: int = 4) -> np.ndarray:
    """The worst pictures, worst first, each with its name and own mIoU, and a legend."""
    tiles = []
    for w in worst:
        painted = error_picture(w.image, w.truth, w.prediction, background)
        scale = TILE / max(painted.shape[:2])
        tile = np.full((TILE + 22, TILE, 3), 255, np.uint8)
        small = cv2.resize(painted, (max(1, round(painted.shape[1] * scale)),
                                     max(1, round(painted.shape[0] * scale))),
                           interpolation=cv2.INTER_AREA)
        tile[22:22 + small.shape[0], :small.shape[1]] = small
        caption = f"{w.score:.3f}  {Path(w.name).name}"[:44]
        cv2.putText(tile, caption, (4, 16), FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    if not tiles:
        tiles.append(np.full((TILE + 22, TILE, 3), 255, np.uint8))
    rows = [tiles[i:i + columns] for i in range(0, len(tiles), columns)]
    blank = np.full_like(tiles[0], 255)
    grid = np.vstack([np.hstack(r + [blank] * (columns - len(r))) for r in rows])
    return np.vstack([legend(grid.shape[1]), grid])


def legend(width: int) -> np.ndarray:
    bar = np.full((28, width, 3), 255, np.uint8)
    x = 6
    for text, colour in (("found", FOUND), ("missed", MISSED), ("false alarm", FALSE_ALARM),
                         ("wrong class", CONFUSED), ("ignored", IGNORED)):
        cv2.rectangle(bar, (x, 8), (x + 14, 22), colour, -1)
        cv2.putText(bar, text, (x + 20, 20), FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        x += 30 + 9 * len(text)
    return bar


def write_confusion_picture(result, path: Path) -> Path:
    write_image(Path(path), confusion_picture(result.scores.matrix, result.scores.classes),
                "confusion matrix ")
    return Path(path)


def write_worst_grid(result, path: Path) -> Path:
    write_image(Path(path), worst_grid(result.worst, result.scores.background),
                "worst pictures ")
    return Path(path)
