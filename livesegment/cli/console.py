"""What the command line prints on stderr: the live status line, and what became of each run.

Messages for the user go to stderr, so stdout stays for what a command was asked for (the model
list, the bench's JSON) and a recording piped elsewhere is not mixed with text.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

EXIT_USAGE = 2  # a user's mistake (LivesegmentError.exit_code): a bad option, a failed file
# Control characters a message may echo from what the user typed or a file name held.
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)} | {
    ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


def one_line(message: str) -> str:
    """``message`` as the one line an error must be: a carriage return or newline echoed
    from an option's value or a file's name is shown escaped, not obeyed."""
    return message.translate(_ESCAPES)


def print_batch_summary(results, stream=None) -> None:
    """One line per input: what became of it, then a count of failures if there were any."""
    stream = stream or sys.stderr
    for r in results:
        if r.status == "failed":
            detail = r.message
        elif r.status == "done":
            report = r.report
            detail = f"-> {report.output} ({report.frames} frames, {report.elapsed_s:.1f} s)"
        elif r.status == "interrupted" and r.report is not None and r.report.output:
            detail = f"-> {r.report.output} ({r.report.frames} frames, playable)"
        else:
            detail = f"-> {r.output}" + (f" ({r.message})" if r.message else "")
        print(f"{r.status:<12} {r.source} {detail}", file=stream)
    failed = sum(r.status == "failed" for r in results)
    if failed:
        print(f"livesegment: {failed} of {len(results)} inputs failed", file=stream)


def print_file_summary(report, segmenter, quiet: bool) -> None:
    """A single file's run: problems and notes always, the figures unless ``quiet``."""
    fps = report.frames / report.elapsed_s if report.elapsed_s > 0 else 0.0
    where = f"{segmenter.spec.name} on {segmenter.device.type}, size {segmenter.size}"
    if report.interrupted:
        if report.output is None:
            print("livesegment: interrupted before the first frame; nothing was written",
                  file=sys.stderr)
        else:
            print(f"livesegment: interrupted; {report.frames} frames written to "
                  f"{report.output} (playable)", file=sys.stderr)
        return
    problems = []
    if report.unreadable:
        problems.append(f"{report.unreadable} frames could not be read and were skipped")
    if report.truncated:
        problems.append("the file ends early (truncated)")
    if problems:
        print(f"livesegment: warning: {'; '.join(problems)}", file=sys.stderr)
    for note in report.notes:
        print(f"livesegment: note: {note}", file=sys.stderr)
    if quiet:
        return
    media = f", {report.duration_s:.2f} s" if report.frames > 1 else ""
    audio = f", audio {report.audio}" if report.audio != "none" else ""
    print(f"wrote {report.output}: {report.frames} frames, {report.width}x{report.height}"
          f"{media}{audio} in {report.elapsed_s:.1f} s ({fps:.1f} fps; {where})",
          file=sys.stderr)


def print_ray_summary(results) -> None:
    """One line per file of a ``--ray`` run: frames and time, or why not."""
    for r in results:
        detail = f"{r.frames} frames in {r.seconds:.1f} s" if r.status == "ok" else r.message
        extra = f" ({r.message})" if r.status == "ok" and r.message else ""
        print(f"{r.status:7} {r.source} -> {r.output}: {detail}{extra}", file=sys.stderr)


class LiveConsole:
    """What a headless live run prints on stderr: notices, the status line, the summary."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.failure: str | None = None
        self.sinks = None
        self._last_plain = 0.0

    def notice(self, message: str) -> None:
        if not self.quiet:
            self._print(f"livesegment: {message}", keep=True)

    def watched(self, pipeline, watched: bool) -> None:
        pipeline.set_paused(not watched)
        self.notice("virtual camera " + ("in use: running" if watched
                                         else "not in use: model paused"))

    def status(self, status) -> None:
        """Redrawn every second on a terminal; a plain line every 5 s in logs."""
        from livesegment.pipeline.headless import status_line

        if self.quiet or not (self.tty or time.monotonic() - self._last_plain >= 5.0):
            return
        self._last_plain = time.monotonic()
        feed = self.sinks.feed if self.sinks is not None else None
        extra = ""
        if feed is not None:
            extra = f"virtual camera {feed.sent} sent"
            if feed.on_demand:
                extra += ", watched" if feed.watched else ", idle"
        self._print(status_line(status, extra), keep=not self.tty)

    def _print(self, line: str, keep: bool) -> None:
        if self.tty:
            sys.stderr.write("\r" + line + "\x1b[K" + ("\n" if keep else ""))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def summary(self, report, written: Path | None) -> int:
        if self.tty and not self.quiet:
            sys.stderr.write("\n")
        fps = report.delivered / report.elapsed_s if report.elapsed_s > 0 else 0.0
        parts = [f"live finished: {report.delivered} frames in {report.elapsed_s:.1f} s "
                 f"({fps:.1f} fps), "
                 f"{report.dropped} dropped, ended by {report.reason}"]
        feed = self.sinks.feed if self.sinks is not None else None
        if feed is not None:
            parts.append(f"virtual camera: {feed.sent} frames sent")
        if written is not None:
            parts.append(f"recorded {written}")
        print("; ".join(parts), file=sys.stderr)
        if self.failure is not None:
            print(f"livesegment: {self.failure}", file=sys.stderr)
            return EXIT_USAGE
        return 0
