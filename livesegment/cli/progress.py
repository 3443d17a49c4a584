"""What the command line shows while it works: a progress bar (tqdm) and the per-file summary.

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
_WITH_TOTAL = ("{desc}{percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s "
               "[{elapsed}<{remaining}{postfix}]")
_WITHOUT_TOTAL = "{desc}{n:.1f} s [{elapsed}{postfix}]"
_PLAIN = "{desc}{percentage:3.0f}% {n:.1f}/{total:.1f} s [{elapsed}<{remaining}{postfix}]"


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
    """Frames, media time out of the total, fps and ETA for one running job.

    ``update`` takes a ``pipeline.job.Progress``; ``label`` (a file name) prefixes the line
    when several files run one after the other.
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

    def update(self, progress) -> None:
        if not self.enabled:
            return
        fps = progress.frames / progress.elapsed_s if progress.elapsed_s > 0 else 0.0
        postfix = f"frame {progress.frames}, {fps:.1f} fps"
        total = progress.total_s if progress.total_s > 0 else None
        media = min(progress.media_s, total) if total else progress.media_s
        if self.tty:
            self._draw(media, total, postfix)
        else:
            self._log(media, total, progress.elapsed_s, postfix)

    def _draw(self, media_s: float, total: float | None, postfix: str) -> None:
        if self._bar is None:
            self._bar = tqdm(total=total, file=self.stream, leave=True, mininterval=0.1,
                             desc=self.label.rstrip() or None,
                             bar_format=_WITH_TOTAL if total else _WITHOUT_TOTAL,
                             **_width_settings(self.stream))
        self._bar.postfix = postfix
        self._bar.update(media_s - self._bar.n)

    def _log(self, media_s: float, total: float | None, elapsed_s: float, postfix: str) -> None:
        now = time.monotonic()
        if now - self._last_line < LOG_INTERVAL_S:
            return
        self._last_line = now
        line = tqdm.format_meter(media_s, total, elapsed_s, prefix=self.label.rstrip(),
                                 bar_format=_PLAIN if total else _WITHOUT_TOTAL,
                                 postfix=postfix)
        self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
