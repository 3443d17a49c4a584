"""One file in, one annotated file out: the job behind ``livesegment process`` and GUI export."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livesegment.core.models.device import encoder_threads, offline_streams
from livesegment.core.budget import (MAX_PICTURE_PIXELS, MAX_STREAMED_PICTURE_PIXELS,
                                     MAX_TILED_PICTURE_PIXELS)
from livesegment.core.compose.effects import Effect, OverlayEffect, is_transparent
from livesegment.core.frames import Composed, Frame
from livesegment.core.compose.overlay import OverlayStyle
from livesegment.core.segmenter import Segmenter, render_in_bands
from livesegment.core.compose.views import (arrange, class_counts, class_shares, colour_labels,
                                           view_width)
from livesegment.core.masks.smoothing import (DEFAULT_LOOKAHEAD, MASKS_OFF, MaskOptions,
                                        TemporalSmoother)
from livesegment.errors import InputError, OutputError
from livesegment.io.class_stats import ClassStatsWriter
from livesegment.io.gif import GifSink
from livesegment.io.images import (IMAGE_SUFFIXES, PAGED_SUFFIXES, TIFF_SUFFIXES,
                                   AnimatedPictureSource, MaskSink, animated_frames,
                                   check_mask_folder, read_image, write_image)
from livesegment.io.png_rows import PngRows
from livesegment.io.still_rows import StillRows
from livesegment.io.inputs import Source, is_camera, is_live, is_realtime
from livesegment.io.paths import check_input, check_output
from livesegment.io.video import ALPHA_CODECS, OUTPUT_SUFFIXES, VideoFileSink, VideoFileSource
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
class JobOptions:
    """How a job writes, beyond the overlay style: the command line's output options.

    ``start_s``/``end_s`` pick a stretch of the source's time (``end_s`` None: to the end; for
    a camera or stream, seconds after its first frame). The output starts at 0: every frame,
    its audio, its mask number and its stats row are counted from ``start_s``.
    """

    view: str = "overlay"  # overlay | mask | side-by-side (mask: give a mask_only style)
    codec: str | None = None  # None: the output suffix's default encoder
    crf: int | None = None
    masks_style: str = "ids"  # ids: class-id PNGs; color: the model's palette
    stats: Path | None = None
    start_s: float = 0.0
    end_s: float | None = None


@dataclass(frozen=True)
class Progress:
    """Where a running job is: frames done and media seconds done out of the total."""

    frames: int
    media_s: float
    total_s: float
    elapsed_s: float
    unit: str = "s"  # media_s/total_s in seconds; "rows": a tiled still's rows done, of all


class _Stopped(Exception):
    """A tiled still cut short between two bands by the job's stop event."""


def _band_watch(height: int, stop: threading.Event | None,
                on_progress: Callable[[Progress], None] | None, start: float
                ) -> Callable[[int, int], None]:
    """What a tiled still does after each band: report the rows done, and stop when asked
    (a 100 MP picture takes minutes tile by tile on a CPU)."""
    def on_band(_top: int, done: int) -> None:
        if on_progress is not None:
            on_progress(Progress(0, done, height, time.perf_counter() - start, "rows"))
        if stop is not None and stop.is_set():
            raise _Stopped
    return on_band


def is_image(path: Source) -> bool:
    """A still picture: an image suffix, and not an animated PNG/WebP (those are videos)."""
    return (isinstance(path, Path) and path.suffix.lower() in IMAGE_SUFFIXES
            and animated_frames(path) == 1)


def check_tiled_source(source: Source) -> None:
    """Tiles are for stills: a video's frames (4K at most) fit the model's usual input, and
    tile by tile each would take seconds."""
    if not is_image(source):
        raise InputError(f"--tile works on still pictures; {source} is a video, animation, "
                         "stream or camera")


def tiled_limit(style: OverlayStyle | Effect, view: str) -> int:
    """The largest still a tiled run takes: big pictures only where nothing but the
    picture, its labels and a band of tiles is held (an overlay or mask coloured in bands;
    blur, replace or a side-by-side view each need whole-picture copies)."""
    banded = isinstance(style, (OverlayStyle, OverlayEffect)) and view != "side-by-side"
    return MAX_TILED_PICTURE_PIXELS if banded else MAX_PICTURE_PIXELS


def check_job_paths(source: Source, output: Path, masks: Path | None = None,
                    overwrite: bool = False) -> None:
    """Everything that can be refused before a model loads or a byte is written."""
    if isinstance(source, str):  # a camera or stream: nothing on disk to check or protect
        if output.suffix.lower() not in OUTPUT_SUFFIXES:
            raise OutputError(f"output {output}: recording {source} needs a video file, one "
                              f"of {', '.join(sorted(OUTPUT_SUFFIXES))}")
        check_output(output)
        return
    check_input(source)
    suffix = output.suffix.lower()
    pictures = animated_frames(source) if source.suffix.lower() in IMAGE_SUFFIXES else 0
    if pictures > 1 and suffix in IMAGE_SUFFIXES:  # processed frame by frame, never cut to one
        kind = (f"a multi-page picture ({pictures} pages)" if source.suffix.lower() in TIFF_SUFFIXES
                else f"an animated picture ({pictures} frames)")
        raise OutputError(f"{source} is {kind}; give a video output such as out.mp4 so that "
                          "every frame is processed")
    still = pictures == 1  # what is_image() says, with the header read once
    if still and suffix not in IMAGE_SUFFIXES:
        raise OutputError(f"{source} is a picture; give an image output such as out.png, "
                          f"not {output}")
    if not still and suffix not in OUTPUT_SUFFIXES:
        kind = "a picture" if suffix in IMAGE_SUFFIXES else f"'{suffix or 'no suffix'}'"
        raise OutputError(f"output {output} is {kind}; a video needs one of "
                          f"{', '.join(sorted(OUTPUT_SUFFIXES))}")
    check_output(output, (source,))
    if masks is not None:
        check_mask_folder(masks, (source, output), overwrite)


# Still formats that keep an alpha channel (OpenCV writes BGRA into these).
ALPHA_IMAGE_SUFFIXES = {".png", ".webp", ".tif", ".tiff"}


def check_alpha_output(source: Source, output: Path) -> None:
    """A transparent result needs a format with an alpha channel; refused before any work."""
    suffix = output.suffix.lower()
    still = is_image(source)
    if still and suffix not in ALPHA_IMAGE_SUFFIXES:
        raise OutputError(f"{output} cannot keep transparency; the alpha effect needs "
                          f"{', '.join(sorted(ALPHA_IMAGE_SUFFIXES))} for a picture")
    if not still and suffix not in ALPHA_CODECS:
        raise OutputError(f"{output} cannot keep transparency; the alpha effect needs .webm "
                          "(VP9) or .mov (ProRes 4444) for a video")


def process_file(source: Source, output: Path, segmenter: Segmenter,
                 style: OverlayStyle | Effect, masks: Path | None = None,
                 stop: threading.Event | None = None,
                 on_progress: Callable[[Progress], None] | None = None,
                 options: JobOptions = JobOptions(), overwrite: bool = False,
                 mask_options: MaskOptions = MASKS_OFF) -> JobReport:
    """Annotates ``source`` into ``output``; a stopped video job leaves a playable partial file.

    ``mask_options``: temporal smoothing (offline: with look-ahead) and edge refinement.

    ``source`` may also be a stream URL or a camera index (a string): it is recorded until it
    ends, ``options.end_s`` or ``stop``, and what was recorded is the complete output.
    """
    check_job_paths(source, output, masks, overwrite)
    if is_transparent(style):
        check_alpha_output(source, output)
    if mask_options.tile:
        check_tiled_source(source)
    stats = (ClassStatsWriter(options.stats, segmenter.spec.categories, segmenter.spec.name)
             if options.stats is not None else None)
    outputs = _FrameOutputs(options, segmenter, masks, stats)
    try:
        if is_image(source):
            report = _process_image(source, output, segmenter, style, outputs, mask_options,
                                    stop, on_progress)
        else:
            report = _process_video(source, output, segmenter, style, outputs, stop,
                                    on_progress, options, mask_options)
    finally:
        outputs.close()
    if stats is not None and report.frames:
        stats.finish()
    return report


class _FrameOutputs:
    """What each composed frame becomes besides the video: the chosen view, mask file, stats row."""

    def __init__(self, options: JobOptions, segmenter: Segmenter, masks: Path | None,
                 stats: ClassStatsWriter | None) -> None:
        self.options = options
        self.palette = segmenter.spec.palette
        self.num_classes = segmenter.spec.num_classes
        self.masks_folder = masks
        self.masks: MaskSink | None = None  # made with the first mask: a failed input leaves none
        self.stats = stats

    def picture(self, c: Composed) -> np.ndarray:
        return arrange(self.options.view, c.frame.bgr, c.image)

    def mask_picture(self, labels: np.ndarray) -> np.ndarray:
        """The mask file's pixels: the class ids, or their colours."""
        if self.options.masks_style == "color":
            return colour_labels(labels, self.palette)
        return labels

    def _mask_sink(self) -> MaskSink:
        if self.masks is None:
            self.masks = MaskSink(self.masks_folder)
        return self.masks

    def mask_rows(self, width: int, height: int) -> PngRows | None:
        """The one mask of a still written band by band, or ``None`` without ``--masks``."""
        if self.masks_folder is None:
            return None
        channels = 3 if self.options.masks_style == "color" else 1
        return self._mask_sink().rows(0, width, height, channels)

    def record(self, c: Composed) -> None:
        if self.masks_folder is not None:
            self._mask_sink().write(c.frame.index, self.mask_picture(c.labels))
        if self.stats is not None:
            self.stats.add(c.frame.index, c.frame.pts_s, class_shares(c.labels, self.num_classes))

    def close(self) -> None:
        """Removes masks a longer earlier run left beyond this one's last frame."""
        if self.masks is not None:
            self.masks.close()


def _process_image(source: Path, output: Path, segmenter: Segmenter,
                   style: OverlayStyle | Effect, outputs: _FrameOutputs,
                   mask_options: MaskOptions = MASKS_OFF, stop: threading.Event | None = None,
                   on_progress: Callable[[Progress], None] | None = None) -> JobReport:
    start = time.perf_counter()
    view = outputs.options.view
    if mask_options.tile and streams_tiled(style, view, output):
        rows = StillRows.open(source, MAX_STREAMED_PICTURE_PIXELS)
        if rows is not None:
            return _stream_tiled_image(rows, output, segmenter, style, outputs, start,
                                       _band_watch(rows.height, stop, on_progress, start))
    bgr = read_image(source, limit=tiled_limit(style, view) if mask_options.tile
                     else MAX_PICTURE_PIXELS)
    # Only a side-by-side view shows the source beside the result: otherwise the overlay
    # may be painted over the decoded picture, so a huge photo is held once, not twice.
    frame = Frame(0, 0.0, bgr)
    in_place = view != "side-by-side"
    if mask_options.tile:
        watch = _band_watch(bgr.shape[0], stop, on_progress, start)
        try:
            composed = segmenter.compose_tiled(frame, style, in_place, f"image {source}", watch)
        except _Stopped:  # nothing written: the output, if one existed, is untouched
            return JobReport(None, 0, True, time.perf_counter() - start, 0, 0)
    else:
        composed = segmenter.compose(segmenter.infer(frame), style, mask_options.refine,
                                     in_place=in_place)
    picture = outputs.picture(composed)
    write_image(output, picture)
    outputs.record(composed)
    h, w = picture.shape[:2]
    return JobReport(output, 1, False, time.perf_counter() - start, w, h)


def streams_tiled(style: OverlayStyle | Effect, view: str, output: Path) -> bool:
    """Whether a tiled still can be read, segmented, coloured and written a band of rows at
    a time: a look coloured pixel by pixel (:func:`tiled_limit`'s big pictures) into a PNG
    (other formats' encoders here want the whole picture)."""
    return (tiled_limit(style, view) == MAX_TILED_PICTURE_PIXELS
            and output.suffix.lower() == ".png")


def _stream_tiled_image(rows: StillRows, output: Path, segmenter: Segmenter,
                        style: OverlayStyle | Effect, outputs: _FrameOutputs, start: float,
                        watch: Callable[[int, int], None]) -> JobReport:
    """A tiled still band by band: each band of rows is decoded, segmented tile by tile,
    coloured and appended to the output (and its mask) before the next is read, so what it
    holds is a band, whatever the picture's height. Stopped or failed, nothing is written."""
    width, height = rows.width, rows.height
    counts = np.zeros(segmenter.spec.num_classes, np.int64)
    try:
        with ExitStack() as files:
            files.enter_context(rows)
            picture = mask = None
            for band in segmenter.tile_bands(rows.read, height, width, f"image {rows.path}"):
                if picture is None:  # opened with the first band: a bad input leaves none
                    picture = files.enter_context(PngRows(output, width, height))
                    mask = outputs.mask_rows(width, height)
                    mask = mask and files.enter_context(mask)
                picture.write(render_in_bands(style, band.pixels, band.labels))
                labels = band.labels.cpu().numpy()
                if mask is not None:
                    mask.write(outputs.mask_picture(labels))
                counts += class_counts(labels, len(counts))
                watch(band.top, band.done)
    except _Stopped:
        return JobReport(None, 0, True, time.perf_counter() - start, 0, 0)
    if outputs.stats is not None:
        outputs.stats.add(0, 0.0, counts / (width * height))
    return JobReport(output, 1, False, time.perf_counter() - start, width, height)


def _open_reader(source: Source, options: JobOptions):
    """A file or URL through FFmpeg (seeked to the start), a camera as a reader alike, or an
    animated WebP or multi-page TIFF through Pillow (FFmpeg here decodes neither)."""
    if isinstance(source, str) and is_camera(source):
        from livesegment.pipeline.capture import CameraReader

        return CameraReader(source)
    if isinstance(source, Path) and source.suffix.lower() in PAGED_SUFFIXES:
        return AnimatedPictureSource(source)
    # A realtime stream's sound is not kept: its packets would pile up unread.
    return VideoFileSource(source, audio=not is_realtime(source), start_s=options.start_s)


def frames_in_range(frames: Iterator[Frame], start_s: float, end_s: float | None
                    ) -> Iterator[Frame]:
    """The frames from ``start_s`` up to (not including) ``end_s``, renumbered from 0 and
    retimed so the first kept moment is 0 s."""
    index = 0
    for frame in frames:
        if frame.pts_s < start_s - 1e-6:
            continue
        if end_s is not None and frame.pts_s >= end_s - 1e-6:
            break
        yield Frame(index, frame.pts_s - start_s, frame.bgr, frame.captured_at)
        index += 1


def from_first_frame(frames: Iterator[Frame]) -> Iterator[Frame]:
    """The frames retimed so that the first one is at 0 s."""
    first: float | None = None
    for frame in frames:
        first = frame.pts_s if first is None else first
        yield Frame(frame.index, frame.pts_s - first, frame.bgr, frame.captured_at)


def _process_video(source: Source, output: Path, segmenter: Segmenter,
                   style: OverlayStyle | Effect, outputs: _FrameOutputs,
                   stop: threading.Event | None,
                   on_progress: Callable[[Progress], None] | None,
                   options: JobOptions = JobOptions(),
                   mask_options: MaskOptions = MASKS_OFF) -> JobReport:
    reader = _open_reader(source, options)
    try:
        sink_type = GifSink if output.suffix.lower() == ".gif" else VideoFileSink
        sink = sink_type.matching(reader, output, audio=not is_realtime(source),
                                  threads=encoder_threads(segmenter.device),
                                  alpha=is_transparent(style), codec=options.codec,
                                  crf=options.crf, width=view_width(options.view, reader.width))
    except BaseException:
        reader.close()
        raise
    end = options.end_s if options.end_s is not None else reader.duration_s or None
    total = max(0.0, (end or 0.0) - options.start_s)
    if total >= LONG_VIDEO_S:  # worth a faster graph: build it while the first frames run
        segmenter.warm_up(reader.height, reader.width, wait=False)
    start = time.perf_counter()

    def write(c: Composed) -> None:
        sink.write(outputs.picture(c), c.frame.pts_s)
        outputs.record(c)

    def report(c: Composed) -> None:
        if on_progress is not None:
            on_progress(Progress(c.frame.index + 1, c.frame.pts_s, total,
                                 time.perf_counter() - start))

    try:
        streams = segmenter.replicas(offline_streams(segmenter.device))
        frames = reader.frames()
        if is_realtime(source):  # an RTSP clock may start anywhere: count from its first frame
            frames = from_first_frame(frames)
        frames = frames_in_range(frames, options.start_s, options.end_s)
        window = TemporalSmoother(mask_options.smoothing, DEFAULT_LOOKAHEAD)
        result = run_offline(frames, [s.infer for s in streams],
                             lambda r: segmenter.compose(r, style, mask_options.refine), write,
                             stop, report, window=window)
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
    # A camera or stream has no end of its own: stopping it is how a recording ends.
    interrupted = result.interrupted and not is_live(source)
    try:
        final = sink.finish(complete=not interrupted)  # audio still drawn from the reader
    finally:
        reader.close()
    notes = tuple(f"dropped {what}: the output keeps only picture and sound"
                  for what in getattr(reader, "dropped", ())) + tuple(sink.audio_notes) \
        + tuple(getattr(reader, "notes", ()))
    return JobReport(final, result.frames, interrupted, result.elapsed_s, sink.width,
                     reader.height, sink.last_time_s, reader.lost_frames, reader.null_frames,
                     reader.truncated, sink.audio_mode, result, notes)
