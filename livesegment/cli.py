"""Command line: ``livesegment process|models|bench|gui``.

User errors print one line, ``livesegment: <message>``, and exit 2; Ctrl-C exits 130 and
SIGTERM 143 after finalising what was written. ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from livesegment import __version__
from livesegment.allocator import keep_freed_memory
from livesegment.errors import InputError, LivesegmentError

EXIT_USAGE = 2


def _opacity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"opacity '{text}' is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"opacity {value} is outside 0..1")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be positive")
    return value


def _add_model_options(p: argparse.ArgumentParser) -> None:
    from livesegment.core.device import DEVICE_CHOICES
    from livesegment.core.zoo import DEFAULT_MODEL

    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model name (default {DEFAULT_MODEL}; "
                   "see 'livesegment models')")
    p.add_argument("--size", type=_positive_int, help="inference short side in pixels "
                   "(default: the model's)")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES,
                   help="compute device (default auto: CUDA if present)")
    p.add_argument("--weights", type=Path, help="state dict file for the chosen architecture")
    p.add_argument("--backend", default="torch", choices=("torch", "onnxruntime"),
                   help="inference engine (onnxruntime: CPU only, needs livesegment[onnx])")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livesegment", description="Real-time semantic segmentation of cameras and videos.")
    parser.add_argument("--version", action="version", version=version_text())
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("process", help="annotate a video or image file")
    p.add_argument("input", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    _add_model_options(p)
    p.add_argument("--classes", help="comma-separated class names to paint (default: all)")
    p.add_argument("--opacity", type=_opacity, default=0.5, help="overlay opacity 0..1 "
                   "(default 0.5)")
    p.add_argument("--masks", type=Path, help="also write class-id PNGs (000000.png...) here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_ray_options(p)

    sub.add_parser("models", help="list the models and whether their weights are at hand")

    b = sub.add_parser("bench", help="measure model-only, pipeline and naive throughput")
    b.add_argument("--source", type=Path, help="video to read (default: a synthetic 720p clip)")
    _add_model_options(b)
    b.add_argument("--frames", type=_positive_int, default=60,
                   help="frames per measurement in each round (default 60)")
    b.add_argument("--rounds", type=_positive_int, default=3,
                   help="rounds of model/pipeline/naive runs; figures are medians (default 3)")
    b.add_argument("--live-seconds", type=float, default=5.0,
                   help="how long to run the live-latency part (default 5)")
    b.add_argument("--json", action="store_true", help="print JSON instead of a table")

    _add_live_parser(sub)

    g = sub.add_parser("gui", help="open the live window")
    g.add_argument("--source", help="camera index, video file or stream URL")
    g.add_argument("--model", help="model to start with")
    return parser


def _add_ray_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run on a Ray cluster (auto, host:port, ray://host:port; no address: a "
                   "local Ray instance); paths must be on storage every node shares; needs "
                   "livesegment[cluster]")


def _add_live_parser(sub) -> None:
    p = sub.add_parser(
        "live", help="live segmentation without a window: to a virtual camera and/or a file",
        description="Runs the live pipeline headless: the newest composed frame goes to a "
        "virtual webcam (for Zoom, Meet, Teams, OBS) and/or a recording; a status line shows "
        "the pace. Ctrl-C stops cleanly.",
        epilog="examples:\n  livesegment live --source 0 --virtual-camera\n"
        "  livesegment live --source 0 --virtual-camera --on-demand --classes person\n"
        "  livesegment live --source clip.mp4 -o annotated.mp4 --duration 10",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", default="0", help="camera index, video file or stream URL "
                   "(default 0: the first camera)")
    _add_model_options(p)
    p.add_argument("--classes", help="comma-separated class names to paint (default: all)")
    p.add_argument("--opacity", type=_opacity, default=0.5, help="overlay opacity 0..1 "
                   "(default 0.5)")
    p.add_argument("--virtual-camera", nargs="?", const="", metavar="DEVICE",
                   help="send the picture to a virtual webcam (optionally a device such as "
                   "/dev/video10); needs livesegment[virtualcam]")
    p.add_argument("--virtual-camera-backend", metavar="NAME",
                   help="pyvirtualcam backend (v4l2loopback, obs, unitycapture; default: the "
                   "first that works)")
    p.add_argument("--on-demand", action="store_true", help="pause the model while no "
                   "program has the virtual camera open (saves CPU)")
    p.add_argument("-o", "--output", type=Path, help="also record the composed picture here")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    p.add_argument("--quiet", action="store_true", help="no status line")


def version_text() -> str:
    return f"livesegment {__version__}"


def parse_classes(spec, text: str | None) -> set[int] | None:
    """``person,car`` -> class ids; ``None``/``all`` -> every class."""
    if text is None or text.strip().lower() == "all":
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError("--classes is empty; give names such as person,car or 'all'")
    return {spec.class_id(n) for n in names}


class ProgressBar:
    """A one-line progress display on stderr: frames, media time, fps, ETA.

    Redraws at most ten times a second on a terminal; elsewhere (logs, CI) a plain line every
    few seconds, so logs stay readable.
    """

    def __init__(self, enabled: bool, stream=sys.stderr) -> None:
        self.enabled = enabled
        self.stream = stream
        self.tty = stream.isatty()
        self._last = 0.0

    def update(self, progress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < (0.1 if self.tty else 5.0):
            return
        self._last = now
        fps = progress.frames / progress.elapsed_s if progress.elapsed_s > 0 else 0.0
        line = f"frame {progress.frames}  {fps:5.1f} fps"
        if progress.total_s > 0:
            frac = min(1.0, progress.media_s / progress.total_s)
            eta = progress.elapsed_s * (1 - frac) / frac if frac > 0 else 0.0
            bar = "#" * int(frac * 24)
            line = (f"[{bar:<24}] {frac * 100:5.1f}%  {progress.media_s:6.1f}/"
                    f"{progress.total_s:.1f} s  {line}  ETA {_clock(eta)}")
        self.stream.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty and self._last:
            self.stream.write("\n")


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 60}:{seconds % 60:02d}"


class StopOnSignal:
    """SIGINT/SIGTERM set a stop flag instead of killing the run, so output gets finalised."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame) -> None:
        self.signum = self.signum or signum
        self.stop.set()

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)


def cmd_process(args: argparse.Namespace) -> int:
    from livesegment.core.overlay import OverlayStyle
    from livesegment.core.segmenter import Segmenter
    from livesegment.core.zoo import get_spec
    from livesegment.pipeline.job import check_job_paths, process_file

    if getattr(args, "ray", None) is not None:
        return _process_on_ray(args)
    spec = get_spec(args.model)
    selected = parse_classes(spec, args.classes)
    check_job_paths(args.input, args.output, args.masks)  # before the model loads
    segmenter = Segmenter.create(spec, args.device, args.size, args.weights, args.backend)
    style = OverlayStyle(spec.palette, spec.background, args.opacity,
                         None if selected is None else frozenset(selected))
    bar = ProgressBar(enabled=not args.quiet)
    with StopOnSignal() as signals:
        try:
            report = process_file(args.input, args.output, segmenter, style, args.masks,
                                  signals.stop, bar.update)
        finally:
            bar.close()
    _print_summary(report, segmenter, args.quiet)
    if report.interrupted:
        return signals.exit_code
    return 0


def _process_on_ray(args: argparse.Namespace) -> int:
    """``process ... --ray``: the files become work on a Ray cluster (pipeline/cluster.py)."""
    from livesegment.core.zoo import get_spec
    from livesegment.pipeline.cluster import ProgressBar as ClusterBar, run_on_ray
    from livesegment.pipeline.jobs import FileJob, JobSettings

    if args.masks is not None:
        raise InputError("--masks is not available with --ray yet")
    spec = get_spec(args.model)
    selected = parse_classes(spec, args.classes)
    settings = JobSettings(spec.name, args.device, args.size, args.weights, args.backend,
                           None if selected is None else frozenset(selected), args.opacity)
    inputs = args.input if isinstance(args.input, list) else [args.input]
    jobs = [FileJob(path, args.output) for path in inputs]
    bar = ClusterBar(enabled=not args.quiet)
    with StopOnSignal() as signals:
        try:
            results = run_on_ray(jobs, settings, None if args.ray == "local" else args.ray,
                                 bar.update, signals.stop, getattr(args, "overwrite", False))
        finally:
            bar.close()
    for r in results:
        detail = f"{r.frames} frames in {r.seconds:.1f} s" if r.status == "ok" else r.message
        extra = f" ({r.message})" if r.status == "ok" and r.message else ""
        print(f"{r.status:7} {r.input} -> {r.output}: {detail}{extra}", file=sys.stderr)
    if signals.stop.is_set():
        return signals.exit_code
    return EXIT_USAGE if any(r.status == "failed" for r in results) else 0


def _print_summary(report, segmenter, quiet: bool) -> None:
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
    if quiet:
        return
    media = f", {report.duration_s:.2f} s" if report.frames > 1 else ""
    audio = f", audio {report.audio}" if report.audio != "none" else ""
    print(f"wrote {report.output}: {report.frames} frames, {report.width}x{report.height}"
          f"{media}{audio} in {report.elapsed_s:.1f} s ({fps:.1f} fps; {where})",
          file=sys.stderr)


def cmd_models(_args: argparse.Namespace) -> int:
    from livesegment.core.zoo import DEFAULT_MODEL, REGISTRY

    rows = [("NAME", "CLASSES", "SIZE", "WEIGHTS", "LICENCE")]
    for spec in REGISTRY.values():
        name = spec.name + (" (default)" if spec.name == DEFAULT_MODEL else "")
        rows.append((name, str(spec.num_classes), str(spec.default_size),
                     spec.weights.status(), spec.licence))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from livesegment.pipeline.bench import format_table, run_bench

    report = run_bench(args.source, args.model, args.device, args.size, args.weights,
                       args.frames, args.live_seconds, args.backend, args.rounds)
    if args.json:
        import json

        print(json.dumps(report, indent=2))
    else:
        print(format_table(report))
    return 0


def cmd_live(args: argparse.Namespace) -> int:
    from livesegment.core.overlay import OverlayStyle
    from livesegment.core.segmenter import Segmenter
    from livesegment.core.zoo import get_spec
    from livesegment.io.live import open_live_source
    from livesegment.pipeline.headless import LiveSinks, VirtualCameraRequest, run_headless
    from livesegment.pipeline.live import LivePipeline

    spec = get_spec(args.model)
    selected = parse_classes(spec, args.classes)
    _check_live_sinks(args)
    source = open_live_source(args.source)
    segmenter = Segmenter.create(spec, args.device, args.size, args.weights, args.backend)
    style = OverlayStyle(spec.palette, spec.background, args.opacity,
                         None if selected is None else frozenset(selected))
    console = LiveConsole(args.quiet)
    camera = None if args.virtual_camera is None else VirtualCameraRequest(
        source.fps, args.virtual_camera or None, args.virtual_camera_backend, args.on_demand)
    ended = threading.Event()
    with StopOnSignal() as signals:
        def fail(message: str) -> None:
            console.failure = console.failure or message
            signals.stop.set()

        pipeline = LivePipeline(segmenter, style, on_error=lambda message, _retry: fail(message),
                                on_notice=console.notice, on_end=ended.set)
        sinks = LiveSinks(args.output, camera, fail, console.notice,
                          lambda watched: console.watched(pipeline, watched))
        console.sinks = sinks
        pipeline.set_source(source)
        try:
            report = run_headless(pipeline, [sinks], signals.stop, ended, args.duration,
                                  console.status)
        finally:
            pipeline.stop()
            written = sinks.close()
    return console.summary(report, written)


def _check_live_sinks(args: argparse.Namespace) -> None:
    """Refuses, before a model loads, a run with nowhere to send frames or a missing extra."""
    if args.virtual_camera is None and args.output is None:
        raise InputError("live needs somewhere to send the picture: --virtual-camera and/or "
                         "-o FILE (or use 'livesegment gui' for a window)")
    if args.output is not None:
        from livesegment.io.paths import check_output
        from livesegment.io.video import VIDEO_SUFFIXES

        if args.output.suffix.lower() not in VIDEO_SUFFIXES:
            raise InputError(f"output {args.output} needs a video suffix "
                             f"({', '.join(sorted(VIDEO_SUFFIXES))})")
        check_output(args.output)
    if args.virtual_camera is not None:
        from livesegment.io.virtualcam import require_pyvirtualcam

        require_pyvirtualcam()


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
        parts = [f"live finished: {report.delivered} frames in {report.elapsed_s:.1f} s ({fps:.1f} fps), "
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


def cmd_gui(args: argparse.Namespace) -> int:
    from livesegment.gui.app import run_gui

    return run_gui(args.source, args.model)


COMMANDS = {"process": cmd_process, "models": cmd_models, "bench": cmd_bench, "live": cmd_live,
            "gui": cmd_gui}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    keep_freed_memory()  # before torch allocates; why: livesegment/allocator.py
    try:
        return COMMANDS[args.command](args)
    except LivesegmentError as exc:
        if args.debug:
            raise
        print(f"livesegment: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("livesegment: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        if args.debug:
            raise
        print("livesegment: out of memory; try a smaller --size", file=sys.stderr)
        return 1


def gui_main() -> int:
    """Entry point of the ``livesegment-gui`` launcher."""
    argv = sys.argv[1:]
    return main(["gui", *argv])


if __name__ == "__main__":
    sys.exit(main())
