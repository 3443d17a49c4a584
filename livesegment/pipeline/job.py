"""One file in, one annotated file out: the job behind ``livesegment process`` and GUI export."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from livesegment.core.device import encoder_threads, offline_streams
from livesegment.core.frames import Composed, Frame
from livesegment.core.overlay import OverlayStyle
from livesegment.core.segmenter import Segmenter
from livesegment.core.smoothing import DEFAULT_LOOKAHEAD, MASKS_OFF, MaskOptions, TemporalSmoother
from livesegment.errors import OutputError
from livesegment.io.images import IMAGE_SUFFIXES, MaskSink, read_image, write_image
from livesegment.io.paths import check_input, check_output
from livesegment.io.video import VIDEO_SUFFIXES, VideoFileSink, VideoFileSource
from livesegment.pipeline.offline import OfflineResult, run_offline


# Videos at least this long get the frozen CPU graph from the start: building it costs ~3 s
# of CPU and saves ~1/6 of each frame's time after, a gain from about 10 s of 720p video.
LONG_VIDEO_S = 10.0


@dataclass(frozen=True)
class JobReport:
    """What a finished (or stopped) job did, for the summary line and the GUI."""

    output: Path | None  # None when stopped before the first frame: nothing was written
    frames: int
    interrupted: bool
    elapsed_s: float
    width: int
    height: int
    duration_s: float = 0.0
    unreadable: int = 0
    null_frames: int = 0
    truncated: bool = False
    audio: str = "none"
    result: OfflineResult | None = None


@dataclass(frozen=True)
class Progress:
    """Where a running job is: frames done and media seconds done out of the total."""

    frames: int
    media_s: float
    total_s: float
    elapsed_s: float


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def check_job_paths(source: Path, output: Path, masks: Path | None = None) -> None:
    """Everything that can be refused before a model loads or a byte is written."""
    check_input(source)
    suffix = output.suffix.lower()
    if is_image(source) and suffix not in IMAGE_SUFFIXES:
        raise OutputError(f"{source} is a picture; give an image output such as out.png, "
                          f"not {output}")
    if not is_image(source) and suffix not in VIDEO_SUFFIXES:
        kind = "a picture" if suffix in IMAGE_SUFFIXES else f"'{suffix or 'no suffix'}'"
        raise OutputError(f"output {output} is {kind}; a video needs one of "
                          f"{', '.join(sorted(VIDEO_SUFFIXES))}")
    check_output(output, (source,))
    if masks is not None and masks.exists() and not masks.is_dir():
        raise OutputError(f"mask folder {masks} exists and is not a folder")


def process_file(source: Path, output: Path, segmenter: Segmenter, style: OverlayStyle,
                 masks: Path | None = None, stop: threading.Event | None = None,
                 on_progress: Callable[[Progress], None] | None = None,
                 mask_options: MaskOptions = MASKS_OFF) -> JobReport:
    """Annotates ``source`` into ``output``; a stopped video job leaves a playable partial file.

    ``mask_options``: temporal smoothing (offline: with look-ahead) and edge refinement."""
    check_job_paths(source, output, masks)
    mask_sink = MaskSink(masks) if masks is not None else None
    if is_image(source):
        return _process_image(source, output, segmenter, style, mask_sink, mask_options)
    return _process_video(source, output, segmenter, style, mask_sink, stop, on_progress,
                          mask_options)


def _process_image(source: Path, output: Path, segmenter: Segmenter, style: OverlayStyle,
                   masks: MaskSink | None, options: MaskOptions) -> JobReport:
    start = time.perf_counter()
    bgr = read_image(source)
    composed = segmenter.compose(segmenter.infer(Frame(0, 0.0, bgr)), style, options.refine)
    write_image(output, composed.image)
    if masks is not None:
        masks.write(0, composed.labels)
    h, w = bgr.shape[:2]
    return JobReport(output, 1, False, time.perf_counter() - start, w, h)


def _process_video(source: Path, output: Path, segmenter: Segmenter, style: OverlayStyle,
                   masks: MaskSink | None, stop: threading.Event | None,
                   on_progress: Callable[[Progress], None] | None,
                   options: MaskOptions) -> JobReport:
    reader = VideoFileSource(source)
    try:
        sink = VideoFileSink.matching(reader, output, audio=True,
                                      threads=encoder_threads(segmenter.device))
    except BaseException:
        reader.close()
        raise
    total = reader.duration_s
    if total >= LONG_VIDEO_S:  # worth a faster graph: build it while the first frames run
        segmenter.warm_up(reader.height, reader.width, wait=False)
    start = time.perf_counter()

    def write(c: Composed) -> None:
        sink.write(c.image, c.frame.pts_s)
        if masks is not None:
            masks.write(c.frame.index, c.labels)

    def report(c: Composed) -> None:
        if on_progress is not None:
            on_progress(Progress(c.frame.index + 1, c.frame.pts_s, total,
                                 time.perf_counter() - start))

    try:
        streams = segmenter.replicas(offline_streams(segmenter.device))
        window = TemporalSmoother(options.smoothing, DEFAULT_LOOKAHEAD)
        result = run_offline(reader.frames(), [s.infer for s in streams],
                             lambda r: segmenter.compose(r, style, options.refine), write, stop,
                             report, window=window)
    except BaseException:
        sink.abort()
        reader.close()
        raise
    reader.close()
    if result.frames == 0:
        sink.abort()
        if not result.interrupted:
            raise OutputError(f"no frame of {source} could be decoded; nothing was written")
        return JobReport(None, 0, True, result.elapsed_s, reader.width, reader.height)
    final = sink.finish(complete=not result.interrupted)
    return JobReport(final, result.frames, result.interrupted, result.elapsed_s, reader.width,
                     reader.height, sink.last_time_s, reader.lost_frames, reader.null_frames,
                     reader.truncated, sink.audio_mode, result)
