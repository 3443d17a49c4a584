"""The command line's progress bar (tqdm), for one file or for a whole Ray cluster.

On a terminal the bar redraws in place, at most ten times a second, and is cut to the
terminal's width (tqdm reads it, and follows resizes), so a 10,000-frame job never wraps. On
anything else (a log file, CI) it writes a plain line every few seconds instead of a stream of
carriage returns.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from tqdm import tqdm

LOG_INTERVAL_S = 5.0
LABEL_WIDTH = 16  # leaves the bar, times, frames and fps 60 columns
# What is counted: a file's media time (its length is known before it is decoded), or the
# frames written across a cluster (from the files' headers). COUNT is the count's place.
MEDIA_TIME = ("{n:.1f}/{total:.1f} s", "{n:.1f} s")
FRAMES = ("{n:.0f}/{total:.0f} frames", "{n:.0f} frames")
STEPS = ("{n:.0f}/{total:.0f} steps", "{n:.0f} steps")
ROWS = ("{n:.0f}/{total:.0f} rows", "{n:.0f} rows")
PICTURES = ("{n:.0f}/{total:.0f} pictures", "{n:.0f} pictures")
_WITH_TOTAL = "{desc}{percentage:3.0f}%|{bar}| COUNT [{elapsed}<{remaining}{postfix}]"
_WITHOUT_TOTAL = "{desc}COUNT [{elapsed}{postfix}]"
_PLAIN = "{desc}{percentage:3.0f}% COUNT [{elapsed}<{remaining}{postfix}]"


def _bar_format(counted: tuple[str, str], total: float | None, plain: bool,
                remaining: bool = True) -> str:
    """``remaining``: tqdm's estimate from the rate so far; off where the caller knows
    better and puts its own in the postfix (a training run's validations)."""
    if not total:
        return _WITHOUT_TOTAL.replace("COUNT", counted[1])
    text = (_PLAIN if plain else _WITH_TOTAL).replace("COUNT", counted[0])
    return text if remaining else text.replace("<{remaining}", "")


def _width_settings(stream: TextIO) -> dict:
    """Follow the terminal's size where it reports one; a terminal that reports none (0 rows
    or columns: some containers, ``script``) would make tqdm draw nothing, so it gets
    ``COLUMNS`` or 80 fixed."""
    try:
        columns, rows = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError, AttributeError):
        columns = rows = 0
    if columns > 0 and rows > 0:
        return {"dynamic_ncols": True}
    fallback = os.environ.get("COLUMNS", "")
    return {"ncols": int(fallback) if fallback.isdigit() and int(fallback) > 0 else 80,
            "nrows": 24}


class ProgressBar:
    """How far a run is: for one file (:meth:`update`) media time out of the total, frames,
    fps and ETA; for a Ray run (:meth:`update_cluster`) frames out of the estimated total and
    files finished; for an evaluation (:meth:`update_pictures`) pictures out of the dataset's.

    ``label`` (a file name, ``ray``) prefixes the line. Drawn from the first update on, so a
    run refused before work starts leaves no empty bar behind.
    """

    def __init__(self, enabled: bool, stream: TextIO | None = None, label: str = "") -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr  # looked up now: tests and tools swap sys.stderr
        self.tty = enabled and self.stream.isatty()
        if len(label) > LABEL_WIDTH:  # the bar, not the name, should get the width
            label = label[: LABEL_WIDTH - 1] + "…"
        self.label = f"{label}: " if label else ""
        self._bar: tqdm | None = None
        self._last_line = 0.0
        self._first_update: float | None = None

    def update(self, progress) -> None:
        """One file's ``pipeline.job.Progress``."""
        if not self.enabled:
            return
        if progress.unit == "rows":  # a tiled still, band by band
            self._show(ROWS, progress.media_s, progress.total_s, progress.elapsed_s, "tiled")
            return
        fps = progress.frames / progress.elapsed_s if progress.elapsed_s > 0 else 0.0
        postfix = f"frame {progress.frames}, {fps:.1f} fps"
        total = progress.total_s if progress.total_s > 0 else None
        media = min(progress.media_s, total) if total else progress.media_s
        self._show(MEDIA_TIME, media, total, progress.elapsed_s, postfix)

    def update_cluster(self, progress) -> None:
        """A Ray run's ``pipeline.cluster.ClusterProgress``."""
        if not self.enabled:
            return
        now = time.monotonic()
        self._first_update = self._first_update or now
        elapsed = now - self._first_update
        fps = progress.frames / elapsed if elapsed > 0 else 0.0
        postfix = f"files {progress.files_done}/{progress.files}, {fps:.1f} fps"
        self._show(FRAMES, progress.frames, progress.total or None, elapsed, postfix)

    def update_training(self, progress) -> None:
        """A training run's ``pipeline.training.TrainProgress``: steps out of the plan (none
        while a time budget is still being measured), the run's own ETA (validations
        included) and the last and best validation mIoU."""
        if not self.enabled:
            return
        parts = [f"epoch {progress.epoch:.1f}"]
        if progress.val_miou is not None:
            parts.append(f"val mIoU {progress.val_miou:.3f} (best {progress.best_miou:.3f})")
        if progress.phase == "validate":
            parts.append("validating")
        elif progress.total_steps:
            parts.append(f"ETA {tqdm.format_interval(progress.eta_s)}")
        self._show(STEPS, progress.step, progress.total_steps or None, progress.elapsed_s,
                   ", ".join(parts), remaining=False)

    def update_pictures(self, done: int, total: int, elapsed_s: float,
                        frames: bool = False) -> None:
        """Pictures of a dataset done out of its total (``eval``), or a video's ``frames``
        (``label`` extracting them)."""
        if not self.enabled:
            return
        rate = done / elapsed_s if elapsed_s > 0 else 0.0
        unit = "frames" if frames else "pictures"
        self._show(FRAMES if frames else PICTURES, done, total or None, elapsed_s,
                   f"{rate:.1f} {unit}/s")

    def _show(self, counted: tuple[str, str], n: float, total: float | None, elapsed_s: float,
              postfix: str, remaining: bool = True) -> None:
        if self.tty:
            self._draw(counted, n, total, postfix, remaining)
        else:
            self._log(counted, n, total, elapsed_s, postfix, remaining)

    def _draw(self, counted: tuple[str, str], n: float, total: float | None,
              postfix: str, remaining: bool = True) -> None:
        bar_format = _bar_format(counted, total, plain=False, remaining=remaining)
        if self._bar is None:
            self._bar = tqdm(total=total, file=self.stream, leave=True, mininterval=0.1,
                             desc=self.label.rstrip() or None, postfix=postfix,
                             bar_format=bar_format, **_width_settings(self.stream))
        elif total != self._bar.total:  # a cluster's estimate grows when a header undercounts
            self._bar.total = total
            self._bar.bar_format = bar_format
        self._bar.postfix = postfix
        self._bar.update(n - self._bar.n)

    def _log(self, counted: tuple[str, str], n: float, total: float | None, elapsed_s: float,
             postfix: str, remaining: bool = True) -> None:
        now = time.monotonic()
        if now - self._last_line < LOG_INTERVAL_S:
            return
        self._last_line = now
        line = tqdm.format_meter(n, total, elapsed_s, prefix=self.label.rstrip(),
                                 bar_format=_bar_format(counted, total, plain=True,
                                                        remaining=remaining),
                                 postfix=postfix)
        self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
