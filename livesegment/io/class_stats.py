"""``--stats``: per frame, its time and each class's share of the pixels, as CSV or JSON.

Rows are kept in memory (a few hundred bytes a frame: an hour at 30 fps is ~30 MB) and the
file is written once, atomically, when the job ends, so a reader never sees half a table.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from livesegment.errors import OutputError, av_reason
from livesegment.io.paths import atomic_target, check_writable

STATS_SUFFIXES = (".csv", ".json")


def check_stats_path(path: Path) -> None:
    """Refuses, before any work, a stats file that could not be written (its folder is missing
    or read-only), rather than failing once the whole video is done."""
    if path.suffix.lower() not in STATS_SUFFIXES:
        raise OutputError(f"--stats {path}: give a .csv or .json file")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"--stats folder {parent} does not exist")
    if path.is_dir():
        raise OutputError(f"--stats {path} is a directory; give a file name")
    check_writable(path, "--stats")


class ClassStatsWriter:
    """Collects (frame, time, shares) rows; ``finish`` writes them in the file's format."""

    def __init__(self, path: Path, class_names: tuple[str, ...], model: str = "") -> None:
        check_stats_path(path)
        self.path = path
        self.class_names = class_names
        self.model = model
        self.rows: list[tuple[int, float, np.ndarray]] = []

    def add(self, frame: int, time_s: float, shares: np.ndarray) -> None:
        self.rows.append((frame, time_s, shares))

    def finish(self) -> Path:
        """Writes the file whole, or nothing; a failed write (a full disk) names the file."""
        try:
            with atomic_target(self.path) as tmp:
                if self.path.suffix.lower() == ".csv":
                    self._write_csv(tmp)
                else:
                    self._write_json(tmp)
        except OSError as exc:
            raise OutputError(f"cannot write stats {self.path}: {av_reason(exc)}") from None
        return self.path

    def _write_csv(self, tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["frame", "time_s", *self.class_names])
            for frame, time_s, shares in self.rows:
                out.writerow([frame, f"{time_s:.6f}", *(f"{s:.6f}" for s in shares)])

    def _write_json(self, tmp: Path) -> None:
        doc = {
            "model": self.model,
            "classes": list(self.class_names),
            "frames": [{"frame": frame, "time_s": round(time_s, 6),
                        "shares": {n: round(float(s), 6)
                                   for n, s in zip(self.class_names, shares)}}
                       for frame, time_s, shares in self.rows],
        }
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(doc, indent=1) + "\n")
