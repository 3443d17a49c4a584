"""``livesegment process``: videos, pictures, streams or a camera into annotated files.

One input runs with a progress bar and a summary; several (a folder, patterns) run one after
the other, a bad file reported and the rest going on; ``--ray`` hands the files to a Ray
cluster (pipeline/cluster.py).
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from livesegment.cli.console import (
    EXIT_USAGE, print_batch_summary, print_file_summary, print_ray_summary,
)
from livesegment.cli.options import (
    add_effect_options, add_model_options, add_smoothing_options, add_tile_option,
    effect_from_args,
    mask_options, opacity, parse_classes, seconds,
)
from livesegment.cli.signals import StopOnSignal
from livesegment.core.models.catalog import MASK_STYLES, VIEWS
from livesegment.errors import InputError
from livesegment.io.formats import ENCODERS, FORMATS

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
  livesegment process scan.tif -o scan-defects.png --model defects.pt --tile
"""


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


def _add_ray_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run on a Ray cluster (auto, host:port, ray://host:port; no address: a "
                   "local Ray instance); paths must be on storage every node shares; needs "
                   "livesegment[cluster]")


def add_parser(sub, common: argparse.ArgumentParser) -> None:
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
    add_tile_option(p, ". A JPEG, PNG or TIFF to a .png overlay or mask is read and "
                    "written band by band, never held whole; other outputs, and blur, "
                    "replace or side-by-side, hold the whole picture")
    _add_ray_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from livesegment.core.compose.effects import is_transparent
    from livesegment.core.compose.overlay import OverlayStyle
    from livesegment.core.segmenter import Segmenter
    from livesegment.core.models.zoo import get_spec
    from livesegment.io.inputs import expand_inputs, plan_outputs, wants_folder
    from livesegment.io.sample import sample_clip
    from livesegment.pipeline.job import check_alpha_output, check_job_paths, check_tiled_source

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
        if args.tile:
            check_tiled_source(source)
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
    from livesegment.cli.progress import ProgressBar
    from livesegment.pipeline.job import process_file

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

    from livesegment.cli.progress import ProgressBar
    from livesegment.pipeline.batch import run_batch
    from livesegment.pipeline.job import process_file

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
    from livesegment.cli.progress import ProgressBar
    from livesegment.core.models.zoo import get_spec
    from livesegment.pipeline.cluster import run_on_ray
    from livesegment.pipeline.jobs import FileJob, JobSettings

    _check_ray_options(args, planned)
    spec = get_spec(args.model)
    selected = parse_classes(spec, args.classes)
    settings = JobSettings(spec.name, args.device, args.size, args.weights, args.backend,
                           None if selected is None else frozenset(selected), args.opacity,
                           masks=mask_options(args))
    jobs = [FileJob(Path(source), output) for source, output in planned]
    bar = ProgressBar(enabled=not args.quiet, label="ray")
    with StopOnSignal() as signals:
        try:
            results = run_on_ray(jobs, settings, None if args.ray == "local" else args.ray,
                                 bar.update_cluster, signals.stop, args.overwrite)
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
                   (tuple(args.effect) != ("overlay",), "--effect"), (args.tile, "--tile")]
    named = [name for used, name in unsupported if used]
    if named:
        verb = "is" if len(named) == 1 else "are"
        raise InputError(f"{', '.join(named)} {verb} not available with --ray yet")
    live = [str(source) for source, _ in planned if isinstance(source, str)]
    if live:
        raise InputError(f"--ray takes files, not streams or cameras ({live[0]})")
