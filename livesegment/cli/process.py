"""Command line: ``livesegment process|models|bench|gui``.

User errors print one line, ``livesegment: <message>``, and exit 2; Ctrl-C exits 130 and
SIGTERM 143 after finalising what was written. ``--debug`` shows tracebacks.

Building the parser imports no torch (``--help`` and ``--version`` answer in a fraction of a
second): choices come from ``core/models/catalog.py`` and ``io/formats.py``; each command imports
what it runs. Keep it so: heavy imports go inside the ``cmd_*`` functions.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import threading
from collections.abc import Sequence
from pathlib import Path

from livesegment import __version__
from livesegment.allocator import keep_freed_memory
from livesegment.cli.options import (
    add_effect_options, add_model_options, add_smoothing_options, add_worker_options,
    effect_from_args, mask_options, opacity, parse_classes, positive_int, seconds,
)
from livesegment.cli.console import (
    EXIT_USAGE, LiveConsole, print_batch_summary, print_file_summary, print_ray_summary,
)
from livesegment.cli.signals import StopOnSignal
from livesegment.core.models.catalog import (
    DEFAULT_MODEL, DEFAULT_PORTRAIT_MODEL, MASK_STYLES, MODEL_NAMES, VIEWS,
)
from livesegment.errors import InputError, LivesegmentError
from livesegment.io.formats import ENCODERS, FORMATS

MAIN_EXAMPLES = """\
examples:
  livesegment process --sample -o people-overlay.mp4  # the bundled 30 s sample
  livesegment process walk.mp4 -o walk-overlay.mp4 --classes person,car
  livesegment process videos/ -o out/        # each video and picture in it
  livesegment process 0 -o cam.mp4 --duration 60   # camera 0 for a minute
  livesegment models espnetv2-voc            # a model's classes and their ids
  livesegment gui                            # the live window

{models}
"""

PROCESS_EXAMPLES = """\
inputs: files, folders (their videos and pictures), quoted patterns
  ('clips/*.mp4'), stream URLs (rtsp://, http://, https://) or a camera index
  (0). A camera or stream is recorded until it ends, --duration or Ctrl-C.
  With several inputs -o names a folder and each output keeps its input's
  name; outputs that exist are skipped unless --overwrite.
outputs: {formats} (by suffix);
  a picture for a picture.
time range: --start/--end take seconds or [hh:]mm:ss; the output starts at
  0 s and its audio is shifted with it.

examples:
  livesegment process --sample -o people-overlay.mp4
  livesegment process walk.mp4 -o walk.webm --crf 30 --view side-by-side
  livesegment process walk.mp4 -o clip.gif --start 0:12 --end 0:15
  livesegment process 'clips/*.mp4' photo.jpg -o out/ --classes person,15
  livesegment process walk.mp4 -o out.mp4 --stats shares.csv \\
      --masks m/ --masks-style color
  livesegment process rtsp://camera.local/stream -o door.mp4 --duration 1:00:00
"""


def _add_debug_option(p: argparse.ArgumentParser, default: object) -> None:
    """``--debug`` before or after the command: the sub-parser's copy must not reset it."""
    p.add_argument("--debug", action="store_true", default=default,
                   help="show tracebacks on errors")


def _add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="video, picture, folder, quoted pattern, stream URL or camera index")
    p.add_argument("--sample", action="store_true",
                   help="add the bundled 30 s sample clip (people at a table) to the inputs")
    p.add_argument("--start", type=seconds, default=0.0, metavar="TIME",
                   help="begin at this time of the source (seconds or [hh:]mm:ss)")
    p.add_argument("--end", type=seconds, metavar="TIME", help="stop at this source time")
    p.add_argument("--duration", type=seconds, metavar="TIME",
                   help="how much to process from --start (a camera or stream: how long to "
                        "record)")


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                   help="output file, or a folder (DIR/) for several inputs")
    p.add_argument("--overwrite", action="store_true",
                   help="redo outputs that already exist (several inputs skip them otherwise)")
    p.add_argument("--view", choices=VIEWS, default="overlay",
                   help="overlay (default), mask (the colour map alone) or side-by-side "
                        "(source | overlay, twice as wide)")
    p.add_argument("--codec", choices=list(ENCODERS), metavar="CODEC",
                   help="video encoder (default: the suffix's; one of "
                        f"{', '.join(ENCODERS)})")
    p.add_argument("--crf", type=int, metavar="N",
                   help="constant quality, lower is better (x264/x265 0..51, default 20/24; "
                        "VP9 0..63, default 32)")
    p.add_argument("--stats", type=Path, metavar="FILE",
                   help="write each frame's time and class pixel shares (.csv or .json)")


def _add_overlay_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--classes", help="comma-separated class names or ids to paint, e.g. "
                   "person,car or 15,7 (default: all)")
    p.add_argument("--opacity", type=opacity, default=0.5, help="overlay opacity 0..1 "
                   "(default 0.5)")


def _add_mask_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--masks", type=Path, help="also write one PNG per frame (000000.png...) "
                   "to this folder")
    p.add_argument("--masks-style", choices=MASK_STYLES, default="ids",
                   help="ids: 8-bit class ids (default), color: the model's colours")


def _add_process_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("process", parents=[common], help="annotate videos, pictures, streams "
                       "or a camera into files", description="Annotate videos, pictures, "
                       "streams or a camera into files.",
                       epilog=PROCESS_EXAMPLES.format(formats=", ".join(FORMATS)),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_input_options(p)
    _add_output_options(p)
    add_model_options(p)
    _add_overlay_options(p)
    add_effect_options(p)
    _add_mask_options(p)
    add_smoothing_options(p)
    _add_ray_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livesegment", description="Real-time semantic segmentation of cameras and videos.",
        epilog=MAIN_EXAMPLES.format(models=textwrap.fill(
            f"models (default {DEFAULT_MODEL}): {', '.join(MODEL_NAMES)}", 78,
            subsequent_indent="  ", break_on_hyphens=False)),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=version_text())
    _add_debug_option(parser, False)
    common = argparse.ArgumentParser(add_help=False)
    _add_debug_option(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    _add_process_parser(sub, common)

    m = sub.add_parser("models", parents=[common], help="list the models, or one model's "
                       "classes", description="List the models; with a NAME, that model's "
                       "classes and ids (for --classes).")
    m.add_argument("name", nargs="?", metavar="NAME", help="show this model's classes")

    b = sub.add_parser("bench", parents=[common],
                       help="measure model-only, pipeline and naive throughput")
    b.add_argument("--source", type=Path, help="video to read (default: a synthetic 720p clip)")
    add_model_options(b)
    b.add_argument("--frames", type=positive_int, default=60,
                   help="frames per measurement in each round (default 60)")
    b.add_argument("--rounds", type=positive_int, default=3,
                   help="rounds of model/pipeline/naive runs; figures are medians (default 3)")
    b.add_argument("--live-seconds", type=float, default=5.0,
                   help="how long to run the live-latency part (default 5)")
    b.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_smoothing_options(b)
    add_worker_options(b)

    _add_live_parser(sub, common)

    g = sub.add_parser("gui", parents=[common], help="open the live window")
    g.add_argument("--source", help="camera index, video file or stream URL")
    g.add_argument("--model", help="model to start with")
    return parser


def _add_ray_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run on a Ray cluster (auto, host:port, ray://host:port; no address: a "
                   "local Ray instance); paths must be on storage every node shares; needs "
                   "livesegment[cluster]")


def _add_live_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "live", parents=[common],
        help="live segmentation without a window: to a virtual camera and/or a file",
        description="Runs the live pipeline headless: the newest composed frame goes to a "
        "virtual webcam (for Zoom, Meet, Teams, OBS) and/or a recording; a status line shows "
        "the pace. Ctrl-C stops cleanly.",
        epilog="examples:\n  livesegment live --source 0 --virtual-camera\n"
        "  livesegment live --source 0 --virtual-camera --model mediapipe-selfie-landscape "
        "--classes person --effect blur\n"
        "  livesegment live --source 0 --virtual-camera --on-demand --classes person\n"
        "  livesegment live --source clip.mp4 -o annotated.mp4 --duration 10",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", default="0", help="camera index, video file or stream URL "
                   "(default 0: the first camera)")
    add_model_options(p, None, f"default {DEFAULT_PORTRAIT_MODEL} with --virtual-camera "
                       f"(video calls), else {DEFAULT_MODEL}", auto_size=True)
    _add_pace_options(p)
    p.add_argument("--classes", help="comma-separated class names to paint (default: all)")
    p.add_argument("--opacity", type=opacity, default=0.5, help="overlay opacity 0..1 "
                   "(default 0.5)")
    add_effect_options(p)
    add_smoothing_options(p)
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


def _add_pace_options(p: argparse.ArgumentParser) -> None:
    from livesegment.core.models.catalog import LIVE_PACES

    p.add_argument("--pace", default="newest", choices=LIVE_PACES,
                   help="newest: show each model result as it comes (default); camera: show "
                   "every camera frame, painted with the newest mask")
    add_worker_options(p)


def version_text() -> str:
    return f"livesegment {__version__}"


def cmd_process(args: argparse.Namespace) -> int:
    from livesegment.core.compose.effects import is_transparent
    from livesegment.core.compose.overlay import OverlayStyle
    from livesegment.core.segmenter import Segmenter
    from livesegment.core.models.zoo import get_spec
    from livesegment.io.inputs import expand_inputs, plan_outputs, wants_folder
    from livesegment.io.sample import sample_clip
    from livesegment.pipeline.job import check_alpha_output, check_job_paths

    spec = get_spec(args.model)
    selected = parse_classes(spec, args.classes)
    inputs = list(args.inputs) + ([str(sample_clip())] if args.sample else [])
    sources = expand_inputs(inputs)
    jobs = plan_outputs(sources, args.output)
    if args.ray is not None:
        return _process_on_ray(args, jobs)
    options = job_options(args)
    batch = wants_folder(args.output, sources)
    for _source, output in jobs:
        _check_encoding(output, options)
    style = OverlayStyle(spec.palette, spec.background, args.opacity,
                         None if selected is None else frozenset(selected),
                         mask_only=args.view == "mask")
    style = effect_from_args(args, spec, style, selected)
    for source, output in jobs:  # before the model loads
        if is_transparent(style):
            check_alpha_output(source, output)
        if not batch:
            check_job_paths(source, output, args.masks, args.overwrite)
    segmenter = Segmenter.create(spec, args.device, args.size, args.weights, args.backend)
    if not batch:
        return _process_one(args, jobs[0], segmenter, style, options)
    return _process_many(args, jobs, segmenter, style, options)


def job_options(args: argparse.Namespace):
    """The output options of ``process`` as a :class:`JobOptions`, the time range checked."""
    from livesegment.io.class_stats import check_stats_path
    from livesegment.pipeline.job import JobOptions

    end = args.end
    if args.duration is not None:
        if end is not None:
            raise InputError("give --end or --duration, not both")
        end = args.start + args.duration
    if end is not None and end <= args.start:
        raise InputError(f"--end {end:g} s is not after --start {args.start:g} s")
    if args.stats is not None:
        check_stats_path(args.stats)
    return JobOptions(view=args.view, codec=args.codec, crf=args.crf,
                      masks_style=args.masks_style, stats=args.stats, start_s=args.start,
                      end_s=end)


def _check_encoding(output: Path, options) -> None:
    """A codec or crf that does not fit an output is refused before any work."""
    from livesegment.io.formats import encode_settings
    from livesegment.io.images import IMAGE_SUFFIXES

    if output.suffix.lower() not in IMAGE_SUFFIXES:
        if output.suffix.lower() in FORMATS:
            encode_settings(output, options.codec, options.crf)


def _per_output(base: Path | None, output: Path, folder: bool) -> Path | None:
    """With several inputs, each gets its own masks folder / stats file, named after its output."""
    if base is None:
        return None
    if folder:
        return base / output.stem
    return base.with_name(f"{base.stem}-{output.stem}{base.suffix}")


def _process_one(args, job, segmenter, style, options) -> int:
    from livesegment.pipeline.job import process_file
    from livesegment.terminal import ProgressBar

    source, output = job
    bar = ProgressBar(enabled=not args.quiet)
    with StopOnSignal() as signals:
        try:
            report = process_file(source, output, segmenter, style, args.masks,
                                  signals.stop, bar.update, options, overwrite=args.overwrite,
                                  mask_options=mask_options(args))
        finally:
            bar.close()
    print_file_summary(report, segmenter, args.quiet)
    if report.interrupted:
        return signals.exit_code
    return 0


def _process_many(args, jobs, segmenter, style, options) -> int:
    """Every job in turn, a bar per file; one line per file at the end; 2 if any failed."""
    from dataclasses import replace

    from livesegment.pipeline.batch import run_batch
    from livesegment.pipeline.job import process_file
    from livesegment.terminal import ProgressBar

    def run_one(source, output):
        per_file = replace(options, stats=_per_output(options.stats, output, False))
        bar = ProgressBar(enabled=not args.quiet, label=Path(str(source)).name)
        signals.job_stop = threading.Event()
        try:
            return process_file(source, output, segmenter, style,
                                _per_output(args.masks, output, True), signals.job_stop,
                                bar.update, per_file, overwrite=args.overwrite,
                                mask_options=mask_options(args))
        finally:
            bar.close()

    with StopOnSignal() as signals:
        results = run_batch(jobs, run_one, args.overwrite, signals.stop,
                            interrupted=lambda report: report.interrupted)
    print_batch_summary(results)
    if any(r.status == "interrupted" or r.status == "not started" for r in results):
        return signals.exit_code
    return EXIT_USAGE if any(r.status == "failed" for r in results) else 0


def _process_on_ray(args: argparse.Namespace, planned: list[tuple[Path | str, Path]]) -> int:
    """``process ... --ray``: the files become work on a Ray cluster (pipeline/cluster.py)."""
    from livesegment.core.models.zoo import get_spec
    from livesegment.pipeline.cluster import ProgressBar as ClusterBar, run_on_ray
    from livesegment.pipeline.jobs import FileJob, JobSettings

    _check_ray_options(args, planned)
    spec = get_spec(args.model)
    selected = parse_classes(spec, args.classes)
    settings = JobSettings(spec.name, args.device, args.size, args.weights, args.backend,
                           None if selected is None else frozenset(selected), args.opacity,
                           masks=mask_options(args))
    jobs = [FileJob(Path(source), output) for source, output in planned]
    bar = ClusterBar(enabled=not args.quiet)
    with StopOnSignal() as signals:
        try:
            results = run_on_ray(jobs, settings, None if args.ray == "local" else args.ray,
                                 bar.update, signals.stop, args.overwrite)
        finally:
            bar.close()
    print_ray_summary(results)
    if signals.stop.is_set():
        return signals.exit_code
    return EXIT_USAGE if any(r.status == "failed" for r in results) else 0


def _check_ray_options(args: argparse.Namespace, planned) -> None:
    """What a Ray worker cannot do yet is refused before the cluster starts."""
    unsupported = [(args.masks is not None, "--masks"), (args.stats is not None, "--stats"),
                   (args.view != "overlay", "--view"), (args.codec or args.crf, "--codec/--crf"),
                   (args.start or args.end or args.duration, "--start/--end/--duration"),
                   (tuple(args.effect) != ("overlay",), "--effect")]
    named = [name for used, name in unsupported if used]
    if named:
        verb = "is" if len(named) == 1 else "are"
        raise InputError(f"{', '.join(named)} {verb} not available with --ray yet")
    live = [str(source) for source, _ in planned if isinstance(source, str)]
    if live:
        raise InputError(f"--ray takes files, not streams or cameras ({live[0]})")


def cmd_models(args: argparse.Namespace) -> int:
    from livesegment.core.models.zoo import REGISTRY, get_spec

    if args.name:
        print(model_details(get_spec(args.name)))
        return 0
    rows = [("NAME", "CLASSES", "SIZE", "WEIGHTS", "LICENCE")]
    for spec in REGISTRY.values():
        name = spec.name + (" (default)" if spec.name == DEFAULT_MODEL else "")
        licence = spec.licence.split(" (")[0]  # the full credit is in the model's detail view
        rows.append((name, str(spec.num_classes), str(spec.default_size),
                     spec.weights.status(), licence))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print("\nclasses of a model: livesegment models NAME")
    return 0


def model_details(spec, width: int = 80) -> str:
    """A model's facts and its classes as ``id name`` columns that fit ``width``."""
    lines = [f"{spec.name}: {spec.title}",
             f"  input short side {spec.default_size} px (multiple of {spec.size_multiple}), "
             f"weights {spec.weights.status()}",
             f"  licence {spec.licence}", "",
             f"classes (--classes takes names or ids; {spec.categories[spec.background]} "
             "is never painted):"]
    cells = [f"{i:>3} {name}" for i, name in enumerate(spec.categories)]
    cell = max(len(c) for c in cells) + 2
    per_row = max(1, (width - 2) // cell)
    rows = -(-len(cells) // per_row)  # column-major, like ls
    for r in range(rows):
        line = "".join(cells[i].ljust(cell) for i in range(r, len(cells), rows))
        lines.append(("  " + line).rstrip())
    return "\n".join(textwrap.shorten(ln, width, placeholder="...") if len(ln) > width else ln
                     for ln in lines)


def cmd_bench(args: argparse.Namespace) -> int:
    from livesegment.pipeline.bench import format_table, run_bench

    report = run_bench(args.source, args.model, args.device, args.size, args.weights,
                       args.frames, args.live_seconds, args.backend, args.rounds,
                       mask_options(args), args.workers, args.threads)
    if args.json:
        import json

        print(json.dumps(report, indent=2))
    else:
        print(format_table(report))
    return 0


def cmd_live(args: argparse.Namespace) -> int:
    from livesegment.core.compose.effects import is_transparent
    from livesegment.core.compose.overlay import OverlayStyle
    from livesegment.core.segmenter import Segmenter
    from livesegment.core.models.zoo import get_spec
    from livesegment.io.live_source import open_live_source
    from livesegment.pipeline.headless import LiveSinks, VirtualCameraRequest, run_headless
    from livesegment.pipeline.live import LivePipeline

    spec = get_spec(args.model or (DEFAULT_PORTRAIT_MODEL if args.virtual_camera is not None
                                   else DEFAULT_MODEL))
    selected = parse_classes(spec, args.classes)
    style = OverlayStyle(spec.palette, spec.background, args.opacity,
                         None if selected is None else frozenset(selected))
    style = effect_from_args(args, spec, style, selected)
    if is_transparent(style):
        raise InputError("the alpha effect needs a file that keeps transparency; a camera "
                         "or recording shows no alpha (use blur, replace or color)")
    _check_live_sinks(args)
    if args.size == "auto" and spec.fixed_input is not None:
        h, w = spec.fixed_input
        raise InputError(f"model {spec.name} takes a fixed {w}x{h} input; --size auto does "
                         "not apply to it")
    source = open_live_source(args.source)
    auto_size = args.size == "auto"
    segmenter = Segmenter.create(spec, args.device, None if auto_size else args.size,
                                 args.weights, args.backend)
    console = LiveConsole(args.quiet)
    camera = None if args.virtual_camera is None else VirtualCameraRequest(
        source.fps, args.virtual_camera or None, args.virtual_camera_backend, args.on_demand)
    ended = threading.Event()
    with StopOnSignal() as signals:
        def fail(message: str) -> None:
            console.failure = console.failure or message
            signals.stop.set()

        pipeline = LivePipeline(segmenter, style, on_error=lambda message, _retry: fail(message),
                                on_notice=console.notice, on_end=ended.set,
                                masks=mask_options(args), workers=args.workers,
                                threads=args.threads, pace=args.pace, auto_size=auto_size)
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
    except Exception as exc:  # a disk or FFmpeg failure no layer turned into one of ours
        if args.debug or not (isinstance(exc, OSError) or type(exc).__module__.startswith("av")):
            raise
        from livesegment.errors import describe

        print(f"livesegment: {describe(exc)}", file=sys.stderr)
        return 1


def gui_main() -> int:
    """Entry point of the ``livesegment-gui`` launcher."""
    argv = sys.argv[1:]
    return main(["gui", *argv])


if __name__ == "__main__":
    sys.exit(main())
