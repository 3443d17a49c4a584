"""One file in, one annotated file out: the job behind ``livesegment process`` and GUI export."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from livesegment.core.device import encoder_threads, offline_streams
from livesegment.core.frames import Composed, Frame
from livesegment.core.effects import Effect, is_transparent
from livesegment.core.overlay import OverlayStyle
from livesegment.core.segmenter import Segmenter
from livesegment.errors import OutputError
from livesegment.io.images import (IMAGE_SUFFIXES, AnimatedPictureSource, MaskSink,
                                   animated_frames, check_mask_folder, read_image, write_image)
from livesegment.io.paths import check_input, check_output
from livesegment.io.video import ALPHA_CODECS, VIDEO_SUFFIXES, VideoFileSink, VideoFileSource
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
    notes: tuple[str, ...] = ()  # what was left out or changed on the way (dropped streams)


@dataclass(frozen=True)
class Progress:
    """Where a running job is: frames done and media seconds done out of the total."""

    frames: int
    media_s: float
    total_s: float
    elapsed_s: float


def is_image(path: Path) -> bool:
    """A still picture: an image suffix, and not an animated PNG/WebP (those are videos)."""
    return path.suffix.lower() in IMAGE_SUFFIXES and animated_frames(path) == 1


def _check_animated(source: Path, output: Path) -> None:
    """An animated picture is processed frame by frame into a video, never cut to its first."""
    count = animated_frames(source) if source.suffix.lower() in IMAGE_SUFFIXES else 1
    if count == 1:
        return
    if output.suffix.lower() in IMAGE_SUFFIXES:
        raise OutputError(f"{source} is an animated picture ({count} frames); give a video "
                          "output such as out.mp4 so that every frame is processed")


def _open_video(source: Path) -> VideoFileSource | AnimatedPictureSource:
    """The source's frames and audio: FFmpeg for videos, GIFs and APNGs; Pillow for animated
    WebP, which FFmpeg here cannot decode."""
    if source.suffix.lower() == ".webp":
        return AnimatedPictureSource(source)
    return VideoFileSource(source, audio=True)


def check_job_paths(source: Path, output: Path, masks: Path | None = None,
                    overwrite: bool = False) -> None:
    """Everything that can be refused before a model loads or a byte is written."""
    check_input(source)
    _check_animated(source, output)
    suffix = output.suffix.lower()
    if is_image(source) and suffix not in IMAGE_SUFFIXES:
        raise OutputError(f"{source} is a picture; give an image output such as out.png, "
                          f"not {output}")
    if not is_image(source) and suffix not in VIDEO_SUFFIXES:
        kind = "a picture" if suffix in IMAGE_SUFFIXES else f"'{suffix or 'no suffix'}'"
        raise OutputError(f"output {output} is {kind}; a video needs one of "
                          f"{', '.join(sorted(VIDEO_SUFFIXES))}")
    check_output(output, (source,))
    if masks is not None:
        check_mask_folder(masks, (source, output), overwrite)


# Still formats that keep an alpha channel (OpenCV writes BGRA into these).
ALPHA_IMAGE_SUFFIXES = {".png", ".webp", ".tif", ".tiff"}


def check_alpha_output(source: Path, output: Path) -> None:
    """A transparent result needs a format with an alpha channel; refused before any work."""
    suffix = output.suffix.lower()
    if is_image(source) and suffix not in ALPHA_IMAGE_SUFFIXES:
        raise OutputError(f"{output} cannot keep transparency; the alpha effect needs "
                          f"{', '.join(sorted(ALPHA_IMAGE_SUFFIXES))} for a picture")
    if not is_image(source) and suffix not in ALPHA_CODECS:
        raise OutputError(f"{output} cannot keep transparency; the alpha effect needs .webm "
                          "(VP9) or .mov (ProRes 4444) for a video")


def process_file(source: Path, output: Path, segmenter: Segmenter,
                 style: OverlayStyle | Effect, masks: Path | None = None,
                 stop: threading.Event | None = None,
                 on_progress: Callable[[Progress], None] | None = None,
                 overwrite: bool = False) -> JobReport:
    """Annotates ``source`` into ``output``; a stopped video job leaves a playable partial file."""
    check_job_paths(source, output, masks, overwrite)
    if is_transparent(style):
        check_alpha_output(source, output)
    mask_sink = MaskSink(masks) if masks is not None else None
    try:
        if is_image(source):
            return _process_image(source, output, segmenter, style, mask_sink)
        return _process_video(source, output, segmenter, style, mask_sink, stop, on_progress)
    finally:
        if mask_sink is not None:
            mask_sink.close()  # no stale masks of a longer earlier run left mixed in


def _process_image(source: Path, output: Path, segmenter: Segmenter,
                   style: OverlayStyle | Effect,
                   masks: MaskSink | None) -> JobReport:
    start = time.perf_counter()
    bgr = read_image(source)
    composed = segmenter.process(Frame(0, 0.0, bgr), style)
    write_image(output, composed.image)
    if masks is not None:
        masks.write(0, composed.labels)
    h, w = bgr.shape[:2]
    return JobReport(output, 1, False, time.perf_counter() - start, w, h)


def _process_video(source: Path, output: Path, segmenter: Segmenter,
                   style: OverlayStyle | Effect,
                   masks: MaskSink | None, stop: threading.Event | None,
                   on_progress: Callable[[Progress], None] | None) -> JobReport:
    reader = _open_video(source)
    try:
        sink = VideoFileSink.matching(reader, output, audio=True,
                                      threads=encoder_threads(segmenter.device),
                                      alpha=is_transparent(style))
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
        result = run_offline(reader.frames(), [s.infer for s in streams],
                             lambda r: segmenter.compose(r, style), write, stop, report)
    except BaseException:
        sink.abort()
        reader.close()
        raise
    if result.frames == 0:
        sink.abort()
        reader.close()
        if not result.interrupted:
            raise OutputError(f"no frame of {source} could be decoded; nothing was written")
        return JobReport(None, 0, True, result.elapsed_s, reader.width, reader.height)
    try:
        final = sink.finish(complete=not result.interrupted)  # audio still drawn from reader
    finally:
        reader.close()
    notes = tuple(f"dropped {what}: the output keeps only picture and sound"
                  for what in reader.dropped) + tuple(sink.audio_notes)
    return JobReport(final, result.frames, result.interrupted, result.elapsed_s, reader.width,
                     reader.height, sink.last_time_s, reader.lost_frames, reader.null_frames,
                     reader.truncated, sink.audio_mode, result, notes)
