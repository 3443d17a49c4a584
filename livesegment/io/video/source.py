"""Video files read through PyAV (FFmpeg): every picture upright, with its true time."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from fractions import Fraction
from itertools import chain
from pathlib import Path
from queue import SimpleQueue

import av
import av.logging
import numpy as np

from livesegment.core.budget import MAX_FRAME_PIXELS, check_picture_size
from livesegment.core.frames import Frame
from livesegment.errors import InputError, av_reason
from livesegment.io.paths import check_input, close_container, ffmpeg_target
from livesegment.io.timestamps import TimestampReorder

VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v"}
TURNS = {"cw", "ccw", "transpose", "antitranspose"}  # steps that swap width and height


def _display_matrix(picture: av.VideoFrame) -> tuple[int, ...] | None:
    """The frame's display matrix (9 int32, 16.16 fixed point), as phones write it."""
    for data in getattr(picture, "side_data", ()) or ():
        if "DISPLAYMATRIX" in str(getattr(data, "type", "")):
            raw = bytes(data)
            return tuple(np.frombuffer(raw[:36], np.int32).tolist()) if len(raw) >= 36 else None
    return None


def display_steps(m: tuple[int, ...] | None) -> tuple[str, ...]:
    """The pixel operations that show a picture as players do, following FFmpeg's own
    autorotation (fftools): right-angle turns, with the matrix's mirror flags; other angles are
    left as they are (rare, and no player agrees on them)."""
    if m is None:
        return ()
    scale0, scale1 = math.hypot(m[0], m[3]), math.hypot(m[1], m[4])
    if not scale0 or not scale1:
        return ()
    theta = -round(-math.degrees(math.atan2(m[1] / scale1, m[0] / scale0)))
    theta -= 360 * math.floor(theta / 360 + 0.9 / 360)
    if abs(theta - 90) < 1:
        return ("transpose",) if m[3] > 0 else ("cw",)
    if abs(theta - 270) < 1:
        return ("antitranspose",) if m[3] < 0 else ("ccw",)
    if abs(theta - 180) < 1:
        return tuple(s for s, flip in (("hflip", m[0] < 0), ("vflip", m[4] < 0)) if flip)
    if abs(theta) < 1 and m[4] < 0:
        return ("vflip",)
    return ()


def apply_display(bgr: np.ndarray, steps: tuple[str, ...]) -> np.ndarray:
    """``bgr`` turned/mirrored by ``steps`` (see :func:`display_steps`)."""
    ops = {"cw": lambda a: np.rot90(a, -1), "ccw": lambda a: np.rot90(a, 1),
           "transpose": lambda a: a.swapaxes(0, 1),
           "antitranspose": lambda a: np.rot90(a, -1)[::-1],
           "hflip": lambda a: a[:, ::-1], "vflip": lambda a: a[::-1]}
    for step in steps:
        bgr = ops[step](bgr)
    return np.ascontiguousarray(bgr)


class VideoFileSource:
    """Decodes a video file frame by frame; corrupt packets are skipped and counted, not fatal.

    Pictures come upright as players show them (a display matrix is applied to the pixels) and
    timed from the first picture (TS/PS recordings start at 0.5-1.4 s; progress and summaries
    speak of the video's own time). With ``audio``, the audio packets met while demuxing are
    kept for the sink, so the file is read once (a pipe can only be). ``path`` may be a stream
    URL. ``start_s`` seeks to the keyframe before that time (``--start``); frame times still
    count from the file's first picture, so the caller drops the frames before it.
    """

    def __init__(self, path: Path | str, audio: bool = False, start_s: float = 0.0) -> None:
        if not isinstance(path, str):
            check_input(path)
        self.path = path
        self._target = None
        try:
            self._target = ffmpeg_target(path)
            self._container = av.open(self._target)
        except (av.FFmpegError, UnicodeDecodeError, ValueError, OSError) as exc:
            if hasattr(self._target, "close"):
                self._target.close()
            raise InputError(f"cannot read video {path}: {av_reason(exc)}") from None
        if not self._container.streams.video:
            self.close()
            raise InputError(f"no video stream in {path}")
        self.stream = self._container.streams.video[0]
        self.stream.thread_type = "AUTO"
        ctx = self.stream.codec_context
        self.width, self.height = ctx.width, ctx.height
        if not self.width or not self.height:
            self.close()
            raise InputError(f"cannot read video {path}: the video stream has no picture size")
        try:  # a stated size over the memory budget: refused before a frame is decoded
            check_picture_size(self.width, self.height, f"video {path}", MAX_FRAME_PIXELS)
        except InputError:
            self.close()
            raise
        self.time_base: Fraction = self.stream.time_base or Fraction(1, 1000)
        streams = self._container.streams
        self.audio_streams = list(streams.audio) if audio else []
        self.audio_packets: dict[int, SimpleQueue] = {s.index: SimpleQueue()
                                                      for s in self.audio_streams}
        self.has_audio = bool(self.audio_streams)
        self.dropped = [f"{s.type} ({s.codec_context.name if s.codec_context else '?'})"
                        for s in streams if s.type in ("subtitle", "data", "attachment")
                        or (s.type == "video" and s is not self.stream)]
        self.unreadable = 0  # packets that failed to decode
        self.null_frames = 0  # empty packets (AVI "repeat previous frame")
        self.truncated = False
        self.decoded = 0
        self.errors_logged = 0  # FFmpeg error messages while reading (damage it skipped)
        self.rate_hint = self._rate_hint()
        self.duration_s = self._stated_duration()
        self.sample_aspect: Fraction | None = self._sample_aspect()
        self.display: tuple[str, ...] = ()  # what the display matrix does to the pixels
        self.origin_s = 0.0  # the first picture's time in the file: our time zero
        self.lead_s = 0.0  # how long the audio starts before the first picture
        self._audio_start_s = self._stated_audio_start()
        self.start_s = start_s
        stated_origin = self._stated_origin()
        if start_s > 0:
            self._seek(stated_origin + start_s)
        step = max(1, round(1 / (float(self.rate_hint) * float(self.time_base))))
        self._pictures = self._timed(TimestampReorder(default_step=step))
        self._first = self._peek()
        if start_s > 0:  # the first picture decoded is the keyframe before the start
            self.origin_s, self.lead_s = stated_origin, 0.0

    def _stated_origin(self) -> float:
        start = self.stream.start_time
        return float(start * self.time_base) if start is not None else 0.0

    def _seek(self, t_s: float) -> None:
        """Starts decoding at the keyframe at or before ``t_s``, so a late start does not
        decode the whole beginning; a source that cannot seek decodes and drops instead."""
        try:
            self._container.seek(int(t_s / self.time_base), stream=self.stream, backward=True)
        except (av.FFmpegError, OSError):
            pass

    def _peek(self) -> tuple[av.VideoFrame, int] | None:
        """Decodes the first picture now: its rotation and time set the output's size and clock."""
        first = next(self._pictures, None)
        if first is None:
            return None
        picture, ticks = first
        self.origin_s = float(ticks * self.time_base)
        if self._audio_start_s is not None:  # audio packets met before the first picture
            self.lead_s = max(0.0, self.origin_s - self._audio_start_s)
        self.display = display_steps(_display_matrix(picture))
        if any(step in TURNS for step in self.display):
            self.width, self.height = self.height, self.width
            if self.sample_aspect:
                self.sample_aspect = 1 / self.sample_aspect
        return first

    def _stated_audio_start(self) -> float | None:
        """When the sound starts, as the demuxer states it (an AAC encoder's priming samples,
        stored before zero in MP4, are not sound); ``None`` when no track says."""
        starts = [float(s.start_time * s.time_base) for s in self.audio_streams
                  if s.start_time is not None and s.time_base]
        return min(starts) if starts else None

    def _sample_aspect(self) -> Fraction | None:
        """The pixel shape (DV/DVD 4:3 and 16:9, 3GP 12:11...); ``None`` for square pixels."""
        sar = self.stream.sample_aspect_ratio or self.stream.codec_context.sample_aspect_ratio
        return Fraction(sar) if sar and sar > 0 and sar != 1 else None

    def _stated_duration(self) -> float:
        """The length the file states (for progress and loss estimates); 0 if it says none."""
        if self.stream.duration:
            return float(self.stream.duration * self.time_base)
        if self._container.duration:
            return self._container.duration / 1_000_000
        return 0.0

    def _rate_hint(self) -> Fraction:
        """A nominal rate for the encoder; the real timing is carried by each frame's pts."""
        rate = self.stream.guessed_rate or self.stream.average_rate or Fraction(25)
        return Fraction(rate).limit_denominator(1001 * 1000)

    def frames(self) -> Iterator[Frame]:
        """Every decodable picture in display order, upright, with a repaired, increasing
        timestamp counted from the first picture."""
        tb = self.time_base
        steps = self.display
        previous = av.logging.get_level()
        av.logging.set_level(av.logging.ERROR)
        try:
            with av.logging.Capture(local=False) as logs:  # decoder threads log too
                pictures = self._pictures if self._first is None else chain(
                    [self._first], self._pictures)
                self._first = None
                for picture, ticks in pictures:
                    self.errors_logged = len(logs)
                    bgr = picture.to_ndarray(format="bgr24")
                    if steps:
                        bgr = apply_display(bgr, steps)
                    yield Frame(self.decoded, float(ticks * tb) - self.origin_s, bgr,
                                time.monotonic())
                    self.decoded += 1
                self.errors_logged = len(logs)
        finally:
            av.logging.set_level(previous)

    @property
    def damaged(self) -> bool:
        return bool(self.unreadable or self.truncated or self.errors_logged)

    @property
    def lost_frames(self) -> int:
        """Pictures that could not be read: zero for a clean file (variable frame rates are not
        losses); for a damaged one, what the stated duration promised but decoding did not give."""
        if not self.damaged:
            return 0
        expected = round(self.duration_s * float(self.rate_hint)) - self.null_frames
        return max(self.unreadable, expected - self.decoded)

    def _timed(self, reorder: TimestampReorder) -> Iterator[tuple[av.VideoFrame, int]]:
        packets = self._container.demux(self.stream, *self.audio_streams)
        video = self.stream.index
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except (av.FFmpegError, OSError):
                self.truncated = True
                break
            if packet.stream.index != video:
                if packet.size:
                    self._keep_audio(packet)
                continue
            if packet.size == 0 and packet.dts is not None:
                self.null_frames += 1
                continue
            try:
                pictures = packet.decode()
            except av.FFmpegError:
                self.unreadable += 1
                continue
            for picture in pictures:
                yield from reorder.push(picture, picture.pts, picture.dts)
        yield from reorder.flush()
        for q in self.audio_packets.values():
            q.put(None)  # the end of each audio track

    def _keep_audio(self, packet: av.Packet) -> None:
        self.audio_packets[packet.stream.index].put(packet)

    def close(self) -> None:
        close_container(self._container, self._target)
