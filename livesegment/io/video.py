"""Video files through PyAV (FFmpeg): every frame with its true time in, H.264 with audio out."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.logging
import cv2
import numpy as np

from livesegment.core.frames import Frame
from livesegment.errors import InputError, OutputError, first_line
from livesegment.io.paths import check_input, interrupted_path, partial_path
from livesegment.io.timestamps import TimestampReorder

VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v"}
# Audio codecs that players expect inside MP4/MOV; anything else is re-encoded to AAC there.
MP4_FRIENDLY_AUDIO = {"aac", "mp3", "opus", "ac3", "eac3", "alac", "flac"}


def _reason(exc: BaseException) -> str:
    return first_line(exc).split(": '")[0]  # FFmpeg appends the path, which we name already


class VideoFileSource:
    """Decodes a video file frame by frame; corrupt packets are skipped and counted, not fatal."""

    def __init__(self, path: Path) -> None:
        check_input(path)
        self.path = path
        try:
            self._container = av.open(str(path))
        except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(f"cannot read video {path}: {_reason(exc)}") from None
        if not self._container.streams.video:
            self._container.close()
            raise InputError(f"no video stream in {path}")
        self.stream = self._container.streams.video[0]
        self.stream.thread_type = "AUTO"
        ctx = self.stream.codec_context
        self.width, self.height = ctx.width, ctx.height
        if not self.width or not self.height:
            self._container.close()
            raise InputError(f"cannot read video {path}: the video stream has no picture size")
        self.time_base: Fraction = self.stream.time_base or Fraction(1, 1000)
        self.has_audio = bool(self._container.streams.audio)
        self.unreadable = 0  # packets that failed to decode
        self.null_frames = 0  # empty packets (AVI "repeat previous frame")
        self.truncated = False
        self.decoded = 0
        self.errors_logged = 0  # FFmpeg error messages while reading (damage it skipped)
        self.rate_hint = self._rate_hint()
        self.duration_s = self._stated_duration()

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
        """Every decodable picture in display order, with a repaired, increasing timestamp."""
        tb = self.time_base
        step = max(1, round(1 / (float(self.rate_hint) * float(tb))))
        reorder: TimestampReorder[av.VideoFrame] = TimestampReorder(default_step=step)
        previous = av.logging.get_level()
        av.logging.set_level(av.logging.ERROR)
        try:
            with av.logging.Capture(local=False) as logs:  # decoder threads log too
                for picture, ticks in self._timed(reorder):
                    self.errors_logged = len(logs)
                    bgr = picture.to_ndarray(format="bgr24")
                    yield Frame(self.decoded, float(ticks * tb), bgr, time.monotonic())
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
        packets = self._container.demux(self.stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.FFmpegError:
                self.truncated = True
                break
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

    def seek(self, t_s: float) -> None:
        """Starts :meth:`frames` at the keyframe at or before ``t_s`` (for a time chunk of
        the file); the frames keep their timestamps in the whole file."""
        if t_s > 0:
            self._container.seek(round(t_s / self.time_base), stream=self.stream,
                                 backward=True, any_frame=False)

    def close(self) -> None:
        self._container.close()


class AudioPassthrough:
    """Carries a source's first audio track into an output, copied when the container allows."""

    def __init__(self, source: Path, output: av.container.OutputContainer) -> None:
        self._input = av.open(str(source))
        self._stream = self._input.streams.audio[0]
        self._output = output
        name = self._stream.codec_context.name
        mp4_like = output.format.name.split(",")[0] in {"mov", "mp4"}
        self.copy = name in output.supported_codecs and (not mp4_like or name in MP4_FRIENDLY_AUDIO)
        if self.copy:
            self._out = output.add_stream_from_template(self._stream)
        else:
            self._out = output.add_stream("aac", rate=self._stream.codec_context.sample_rate)
        self._packets = self._input.demux(self._stream)
        self._pending: av.Packet | None = None
        self._done = False

    def mux_until(self, t_s: float | None) -> None:
        """Writes source audio up to time ``t_s`` (everything when ``None``), keeping sync."""
        while not self._done:
            packet = self._pending or self._next_packet()
            if packet is None:
                break
            if t_s is not None and packet.pts is not None and float(packet.pts * packet.time_base) > t_s:
                self._pending = packet
                return
            self._pending = None
            self._write(packet)
        if t_s is None and not self.copy:
            for out in self._out.encode(None):
                self._output.mux(out)

    def _next_packet(self) -> av.Packet | None:
        """The next non-empty audio packet, or ``None`` at the end of the track."""
        while True:
            try:
                packet = next(self._packets)
            except (StopIteration, av.FFmpegError):
                self._done = True
                return None
            if packet.size:
                return packet
            if packet.dts is None:  # the demuxer's final flush packet
                self._done = True
                return None

    def _write(self, packet: av.Packet) -> None:
        if self.copy:
            packet.stream = self._out
            self._output.mux(packet)
            return
        try:
            for frame in packet.decode():
                frame.pts = None
                for out in self._out.encode(frame):
                    self._output.mux(out)
        except av.FFmpegError:
            pass  # a damaged audio packet is dropped; the picture matters more

    def close(self) -> None:
        self._input.close()


class VideoFileSink:
    """H.264 (by default) into a hidden partial file, renamed over the target only when complete.

    Each frame keeps its source timestamp, so variable-rate and mislabelled sources play at
    their true speed. Odd picture sizes use 4:4:4 chroma, which needs no even dimensions.
    """

    def __init__(self, path: Path, width: int, height: int, time_base: Fraction,
                 rate: Fraction, audio_from: Path | None = None, codec: str = "libx264",
                 crf: int = 20, preset: str = "superfast", threads: int = 1) -> None:
        self.path = path
        self.tmp = partial_path(path)
        try:
            self._container = av.open(str(self.tmp), "w")
        except (av.FFmpegError, ValueError) as exc:
            raise OutputError(f"cannot write video {path}: {_reason(exc)}") from None
        try:
            stream = self._container.add_stream(codec, rate=rate)
        except (av.FFmpegError, ValueError) as exc:
            self._discard()
            raise OutputError(f"cannot encode {codec} into {path}: {_reason(exc)}") from None
        stream.width, stream.height = width, height
        even = width % 2 == 0 and height % 2 == 0
        stream.pix_fmt = "yuv420p" if even else "yuv444p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        if codec == "libx264":
            # ``threads``: 1 by default, since on a small CPU the model needs the other cores;
            # 0 lets x264 choose. "superfast": 16 ms per 720p frame vs 25 ms for "veryfast"
            # (files ~1.6x larger); faster presets cost size (BENCHMARKS.md).
            stream.options = {"crf": str(crf), "preset": preset, "threads": str(threads)}
        self._stream = stream
        self._tb = time_base
        self._last_pts: int | None = None
        self.frames = 0
        self.last_time_s = 0.0
        self._audio = AudioPassthrough(audio_from, self._container) if audio_from else None

    @classmethod
    def matching(cls, source: VideoFileSource, path: Path, audio: bool = False,
                 threads: int = 1) -> VideoFileSink:
        """A sink with ``source``'s size, clock and nominal rate (and its audio if asked)."""
        return cls(path, source.width, source.height, source.time_base, source.rate_hint,
                   audio_from=source.path if audio and source.has_audio else None,
                   threads=threads)

    @property
    def audio_mode(self) -> str:
        if self._audio is None:
            return "none"
        return "copied" if self._audio.copy else "re-encoded to AAC"

    def write(self, bgr: np.ndarray, pts_s: float) -> None:
        pts = int(round(pts_s / self._tb))
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts = pts
        picture = self._picture(bgr)
        picture.pts = pts
        picture.time_base = self._tb
        if self._audio is not None:
            self._audio.mux_until(pts_s)
        for packet in self._stream.encode(picture):
            self._container.mux(packet)
        self.frames += 1
        self.last_time_s = pts_s

    def _picture(self, bgr: np.ndarray) -> av.VideoFrame:
        """The frame in the encoder's pixel format. For 4:2:0, OpenCV's conversion: 2.5x faster
        than FFmpeg's default scaler and closer (mean round-trip error 0.7 vs 2.8 grey levels,
        measured on the shared footage)."""
        if self._stream.pix_fmt == "yuv420p":
            return av.VideoFrame.from_ndarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420),
                                              format="yuv420p")
        return av.VideoFrame.from_ndarray(bgr, format="bgr24")

    def finish(self, complete: bool = True) -> Path:
        """Flushes and closes; a complete file replaces the target, an interrupted one lands
        beside it (``name.partial.mp4``) so an older output is never destroyed."""
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        if self._audio is not None:
            self._audio.mux_until(None if complete else self.last_time_s)
            self._audio.close()
        self._container.close()
        final = self.path if complete else interrupted_path(self.path)
        os.replace(self.tmp, final)
        return final

    def abort(self) -> None:
        """Drops the partial file: nothing half-written is left under any name."""
        if self._audio is not None:
            self._audio.close()
        self._discard()

    def _discard(self) -> None:
        try:
            self._container.close()
        except av.FFmpegError:
            pass
        self.tmp.unlink(missing_ok=True)
