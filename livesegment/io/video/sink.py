"""Video files written through PyAV (FFmpeg): H.264 (or the suffix's codec, or one that keeps
transparency) with the source's clock, pixel shape and sound."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from livesegment.errors import OutputError, av_reason
from livesegment.io.formats import VIDEO_OUTPUT_SUFFIXES, encode_settings
from livesegment.io.paths import close_container, ffmpeg_target, interrupted_path, partial_path
from livesegment.io.video.audio import AudioPassthrough
from livesegment.io.video.source import VideoFileSource

# What we write: the readable containers plus animated GIF (livesegment/io/formats.py).
OUTPUT_SUFFIXES = VIDEO_OUTPUT_SUFFIXES
# Codecs that keep an alpha channel, by output suffix: VP9 with an alpha plane in WebM (small,
# plays in browsers and OBS; FFmpeg's own vp9 decoder ignores the plane, libvpx-vp9 reads it)
# and ProRes 4444 in MOV (large, for editors; 10-bit alpha). Realtime VP9 settings: the
# default "good" deadline is several times slower per frame.
ALPHA_CODECS = {
    ".webm": ("libvpx-vp9", "yuva420p", {"crf": "30", "b": "0", "deadline": "realtime",
                                         "cpu-used": "8", "row-mt": "1"}),
    ".mov": ("prores_ks", "yuva444p10le", {"profile": "4444"}),
}


class VideoFileSink:
    """H.264 (by default) into a hidden partial file, renamed over the target only when complete.

    Each frame keeps its source timestamp, so variable-rate and mislabelled sources play at
    their true speed. The picture is always 4:2:0, which every player decodes (4:4:4 H.264
    plays in neither browsers nor QuickTime): an odd width or height is padded to even by
    repeating the last column/row, one pixel that no player crops away. Non-square pixels are
    carried over as the stream's sample aspect ratio, so the output displays at the source's
    size without resampling a single pixel (masks stay pixel-aligned with it).
    ``alpha``: BGRA pictures in, a codec that keeps transparency out (:data:`ALPHA_CODECS`).
    """

    def __init__(self, path: Path, width: int, height: int, time_base: Fraction,
                 rate: Fraction, audio_from: VideoFileSource | None = None,
                 codec: str | None = None, crf: int | None = None, preset: str = "superfast",
                 threads: int = 1, sample_aspect: Fraction | None = None,
                 lead_s: float = 0.0, alpha: bool = False) -> None:
        self.path = path
        if alpha:
            if path.suffix.lower() not in ALPHA_CODECS:
                raise OutputError(f"{path} cannot keep transparency; use .webm (VP9) or .mov "
                                  "(ProRes 4444) for a video, .png for a picture")
            codec, pix_fmt, options = ALPHA_CODECS[path.suffix.lower()]
            options = {**options, "threads": str(threads)}
        else:  # the suffix's encoder unless told (io/formats.py); a misfit is an OutputError
            settings = encode_settings(path, codec, crf)
            codec, pix_fmt = settings.encoder.name, settings.encoder.pix_fmt
            options = settings.options(preset, threads)
        self.tmp = partial_path(path)
        self.width, self.height = width, height
        self._target = None
        try:
            self._target = ffmpeg_target(self.tmp, "w")
            fmt = None if isinstance(self._target, str) else OUTPUT_FORMATS.get(
                self.tmp.suffix.lower())  # a file object has no name to choose a muxer by
            self._container = av.open(self._target, "w", format=fmt)
        except (av.FFmpegError, ValueError, OSError) as exc:
            if hasattr(self._target, "close"):
                self._target.close()
            self.tmp.unlink(missing_ok=True)
            raise OutputError(f"cannot write video {path}: {av_reason(exc)}") from None
        try:
            stream = self._container.add_stream(codec, rate=rate)
        except (av.FFmpegError, ValueError) as exc:
            self._discard()
            raise OutputError(f"cannot encode {codec} into {path}: {av_reason(exc)}") from None
        subsampled = pix_fmt.startswith(("yuv420", "yuva420"))
        self._pad = subsampled  # 4:2:0 needs even sides: pad odd ones by one pixel
        stream.width = width + width % 2 if subsampled else width
        stream.height = height + height % 2 if subsampled else height
        stream.pix_fmt = pix_fmt
        stream.options = options
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        if sample_aspect:
            stream.codec_context.sample_aspect_ratio = sample_aspect
        self._stream = stream
        self._tb = time_base
        self._lead_s = lead_s  # pictures start this late when the audio starts before them
        self._last_pts: int | None = None
        self.frames = 0
        self.last_time_s = 0.0
        self._audio: list[AudioPassthrough] = []
        self.audio_notes: list[str] = []  # tracks that could not be carried, in words
        for track in audio_from.audio_streams if audio_from is not None else []:
            try:
                self._audio.append(AudioPassthrough(audio_from, track, self._container))
            except (av.FFmpegError, ValueError) as exc:  # a picture without that sound beats none
                self.audio_notes.append(f"dropped audio track {track.index} "
                                        f"({track.codec_context.name}): {av_reason(exc)}")

    @classmethod
    def matching(cls, source: VideoFileSource, path: Path, audio: bool = False,
                 threads: int = 1, alpha: bool = False, codec: str | None = None,
                 crf: int | None = None, width: int | None = None) -> VideoFileSink:
        """A sink with ``source``'s (upright) size, pixel shape, clock and nominal rate, and
        every audio track it demuxes if asked; ``width`` overrides the size for views wider
        than the source (side by side). A camera reader has no audio, pixel shape or lead."""
        return cls(path, width or source.width, source.height, source.time_base,
                   source.rate_hint, audio_from=source if audio and source.has_audio else None,
                   codec=codec, crf=crf, threads=threads,
                   sample_aspect=getattr(source, "sample_aspect", None),
                   lead_s=getattr(source, "lead_s", 0.0) if audio else 0.0, alpha=alpha)

    @property
    def audio_mode(self) -> str:
        if not self._audio:
            return "none"
        modes = [a.mode for a in self._audio]
        if len(set(modes)) == 1:
            return modes[0] if len(modes) == 1 else f"{len(modes)} tracks {modes[0]}"
        return ", ".join(modes)

    def write(self, bgr: np.ndarray, pts_s: float) -> None:
        pts = int(round((pts_s + self._lead_s) / self._tb))
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts = pts
        picture = self._picture(bgr)
        picture.pts = pts
        picture.time_base = self._tb
        try:
            for track in self._audio:
                track.mux_until(pts_s + self._lead_s)
            for packet in self._stream.encode(picture):
                self._container.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            raise self._write_error(exc) from None
        self.frames += 1
        self.last_time_s = pts_s

    def _write_error(self, exc: BaseException) -> OutputError:
        return OutputError(f"cannot write video {self.path}: {av_reason(exc)}")

    def _picture(self, bgr: np.ndarray) -> av.VideoFrame:
        """The frame for the encoder. 4:2:0 through OpenCV's conversion: 2.5x faster than
        FFmpeg's default scaler and closer (mean round-trip error 0.7 vs 2.8 grey levels,
        measured on the shared footage); odd sizes are first padded by repeating the last
        column/row. BGRA goes to an alpha codec as it is; other formats (a GIF's palette)
        are converted by FFmpeg."""
        h, w = bgr.shape[:2]
        if self._pad and (h % 2 or w % 2):
            bgr = cv2.copyMakeBorder(bgr, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
        if self._stream.pix_fmt == "yuv420p":
            return av.VideoFrame.from_ndarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420),
                                              format="yuv420p")
        if bgr.shape[2] == 4:
            return av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr), format="bgra")
        return av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr), format="bgr24")

    def finish(self, complete: bool = True) -> Path:
        """Flushes and closes; a complete file replaces the target, an interrupted one lands
        beside it (``name.partial.mp4``) so an older output is never destroyed. A write that
        fails (a full disk) removes the partial file and raises :class:`OutputError`."""
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            for track in self._audio:
                track.mux_until(None if complete else self.last_time_s + self._lead_s)
            close_container(self._container, self._target)
            final = self.path if complete else interrupted_path(self.path)
            os.replace(self.tmp, final)
        except (av.FFmpegError, OSError) as exc:
            self._discard()
            raise self._write_error(exc) from None
        return final

    def abort(self) -> None:
        """Drops the partial file: nothing half-written is left under any name."""
        self._discard()

    def _discard(self) -> None:
        try:
            close_container(self._container, self._target)
        except (av.FFmpegError, OSError):
            pass  # the file goes anyway; its trailer could not be written (full disk)
        self.tmp.unlink(missing_ok=True)


# Muxers by suffix, for files that must be opened as Python file objects (no name to guess by).
OUTPUT_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska",
                  ".webm": "webm", ".avi": "avi", ".gif": "gif"}
