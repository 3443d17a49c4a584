"""``livesegment live``: the live pipeline without a window, to a virtual camera and/or a file,
with a status line on stderr."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from livesegment.cli.console import LiveConsole
from livesegment.cli.options import (
    add_effect_options, add_model_options, add_smoothing_options, add_worker_options,
    effect_from_args, mask_options, number, opacity, parse_classes,
)
from livesegment.cli.signals import StopOnSignal
from livesegment.core.models.catalog import DEFAULT_MODEL, DEFAULT_PORTRAIT_MODEL
from livesegment.errors import InputError, OutputError


def add_parser(sub, common: argparse.ArgumentParser) -> None:
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
    p.add_argument("--overwrite", action="store_true",
                   help="replace the -o file if it exists (else it is refused)")
    p.add_argument("--duration", type=number, metavar="SECONDS", help="stop after this long")
    p.add_argument("--quiet", action="store_true", help="no status line")


def _add_pace_options(p: argparse.ArgumentParser) -> None:
    from livesegment.core.models.catalog import LIVE_PACES

    p.add_argument("--pace", default="newest", choices=LIVE_PACES,
                   help="newest: show each model result as it comes (default); camera: show "
                   "every camera frame, painted with the newest mask")
    add_worker_options(p)


def run(args: argparse.Namespace) -> int:
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
    if signals.signum is not None and report.delivered == 0:  # nothing to show for the run
        print("livesegment: interrupted before the first frame; nothing was written",
              file=sys.stderr)
        return signals.exit_code
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
        source = Path(args.source) if args.source is not None else None
        check_output(args.output, (source,) if source is not None and source.is_file() else ())
        if args.output.exists() and not args.overwrite:
            raise OutputError(f"output {args.output} exists; pass --overwrite to replace it")
    if args.virtual_camera is not None:
        from livesegment.io.virtualcam import require_pyvirtualcam

        require_pyvirtualcam()
