"""Sound carried from a video file into an output: copied when the container takes the codec,
re-encoded when it does not, dropped (with a word) when it holds no sound.

The decision (:func:`audio_plan`, by container) is a pure table, so the chunked runner asks it
too; :class:`AudioPassthrough` does the carrying for the sink.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING

import av
import numpy as np

if TYPE_CHECKING:  # the source only hands its packets over; no import cycle with the sink
    from livesegment.io.video.source import VideoFileSource

AUDIO_GAP_S = 0.1  # a transcoded track's hole longer than this is filled with silence
# Layouts kept as they are when transcoding; anything else (no layout, odd ones) -> stereo.
SURROUND = {"mono", "stereo", "2.1", "3.0", "4.0", "5.0", "5.1", "7.1", "5.0(side)",
            "5.1(side)", "quad"}


@dataclass(frozen=True)
class AudioRule:
    """What one output container does with a source's audio: codecs it takes as they are
    (``None``: whatever its muxer accepts) and the encoder for the rest (``None``: no audio)."""

    copyable: frozenset[str] | None
    encoder: str | None


# Keyed by FFmpeg's muxer name. MP4/MOV players expect these codecs (MOV refuses Opus and FLAC
# outright); WebM holds only Opus and Vorbis; a GIF holds no sound at all.
AUDIO_RULES: dict[str, AudioRule] = {
    "mp4": AudioRule(frozenset({"aac", "mp3", "opus", "ac3", "eac3", "alac", "flac"}), "aac"),
    "mov": AudioRule(frozenset({"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s16be",
                                "pcm_s24le", "pcm_s24be", "pcm_f32le"}), "aac"),
    "matroska": AudioRule(None, "aac"),
    "avi": AudioRule(frozenset({"mp3", "ac3", "pcm_s16le"}), "aac"),
    "webm": AudioRule(frozenset({"opus", "vorbis"}), "libopus"),
    "gif": AudioRule(frozenset(), None),
}


def audio_plan(container: str, codec: str, muxable: set[str] | frozenset[str]) -> str | None:
    """``"copy"``, the encoder to transcode with, or ``None`` when the container holds no sound."""
    rule = AUDIO_RULES.get(container, AudioRule(None, "aac"))
    allowed = muxable if rule.copyable is None else rule.copyable & muxable
    if codec in allowed:
        return "copy"
    return rule.encoder


class AudioPassthrough:
    """Carries one audio track of a source into an output: copied when the container takes the
    codec, else transcoded to the container's codec (resampled where the encoder needs it).

    Packets come from the source's single demuxing pass; times are moved by the source's
    ``origin_s`` (less ``lead_s`` when the sound starts first: the sink then delays the
    pictures by as much, as no container takes negative times alike) so the track keeps its
    offset to the first picture, and a track whose clock
    resets or jumps back (joined TS recordings) is carried on after the last packet.
    """

    def __init__(self, source: VideoFileSource, stream: av.audio.stream.AudioStream,
                 output: av.container.OutputContainer) -> None:
        self._stream = stream
        self._queue: SimpleQueue = source.audio_packets[stream.index]
        self._origin_s = source.origin_s - source.lead_s + source.start_s
        self._from_start = source.start_s > 0  # sound before ``--start`` is dropped
        self._output = output
        container = output.format.name.split(",")[0]
        plan = audio_plan(container, stream.codec_context.name, output.supported_codecs)
        self.copy = plan == "copy"
        self.encoder = None if self.copy else plan
        self._resampler: av.AudioResampler | None = None
        self._next_pts: int | None = None
        if self.copy:
            self._out = output.add_stream_from_template(stream)
        elif plan is not None:
            self._out = self._transcoder(plan)
        self._pending: av.Packet | None = None
        self._done = plan is None
        self._shift = 0  # ticks added after the clock went backwards
        self._last_dts: int | None = None

    def _transcoder(self, encoder: str) -> av.audio.stream.AudioStream:
        ctx = self._stream.codec_context
        codec = av.Codec(encoder, "w")
        rates = codec.audio_rates
        rate = ctx.sample_rate if not rates or ctx.sample_rate in rates else 48000
        keep = encoder == "aac" and ctx.layout and ctx.layout.name in SURROUND
        layout = ctx.layout.name if keep else "mono" if ctx.channels == 1 else "stereo"
        out = self._output.add_stream(encoder, rate=rate)
        out.layout = layout
        fmt = codec.audio_formats[0].name if codec.audio_formats else "fltp"
        out.codec_context.format = fmt
        out.time_base = Fraction(1, rate)
        self._resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate)
        return out

    @property
    def mode(self) -> str:
        if self.copy:
            return "copied"
        if self.encoder is None:
            return "dropped (the output holds no sound)"
        return f"re-encoded to {self.encoder.removeprefix('lib').upper()}"

    def mux_until(self, t_s: float | None) -> None:
        """Writes audio up to ``t_s`` in output time (everything when ``None``), keeping sync.
        Only packets the reader has already met are written; the rest wait for later calls."""
        while not self._done:
            packet = self._pending or self._next_packet(wait=t_s is None)
            if packet is None:
                break
            at = None if packet.pts is None else (
                float((packet.pts + self._shift) * packet.time_base) - self._origin_s)
            if t_s is not None and at is not None and at > t_s:
                self._pending = packet
                return
            self._pending = None
            if self._from_start and at is not None and at < 0:
                continue
            self._write(packet)
        if t_s is None and self.encoder is not None and not self.copy:
            self._encode(None)

    def _next_packet(self, wait: bool) -> av.Packet | None:
        """The next audio packet the reader has met; ``None`` if none yet (or at the end)."""
        try:
            packet = self._queue.get(block=wait, timeout=5.0 if wait else None)
        except Empty:
            if wait:
                self._done = True
            return None
        if packet is None:
            self._done = True
        return packet

    def _rebase(self, packet: av.Packet) -> None:
        """Moves a packet to output time; a clock that goes backwards carries on from the last."""
        if packet.dts is not None and self._last_dts is not None and \
                packet.dts + self._shift <= self._last_dts:
            self._shift = self._last_dts + (packet.duration or 1) - packet.dts
        origin = int(round(self._origin_s / packet.time_base))
        if packet.dts is not None:
            packet.dts += self._shift - origin
            self._last_dts = packet.dts + origin
        if packet.pts is not None:
            packet.pts += self._shift - origin

    def _write(self, packet: av.Packet) -> None:
        if self.copy:
            self._rebase(packet)
            packet.stream = self._out
            self._output.mux(packet)
            return
        start = None if packet.pts is None else float(packet.pts * packet.time_base)
        try:
            frames = packet.decode()
        except av.FFmpegError:
            return  # a damaged audio packet is dropped; the picture matters more
        rate = self._out.codec_context.sample_rate
        for frame in frames:
            t = start if frame.time is None else float(frame.time)
            start = None
            due = None if t is None else int(round((t - self._origin_s) * rate))
            if self._next_pts is None:
                self._next_pts = due or 0
            elif due is not None and due - self._next_pts > AUDIO_GAP_S * rate:
                self._silence(due - self._next_pts)  # a hole in the recording stays a hole
            frame.pts = None
            for out in self._resampler.resample(frame):
                self._encode(out)

    def _silence(self, samples: int) -> None:
        """Encodes ``samples`` of silence, so the sound after a dropout keeps its time (an
        encoder numbers samples consecutively; a clock that jumps back is simply carried on)."""
        ctx = self._out.codec_context
        fmt, layout = ctx.format.name, ctx.layout.name
        dtype = {"flt": np.float32, "dbl": np.float64, "s16": np.int16, "s32": np.int32}[
            fmt.rstrip("p")]
        channels = ctx.layout.nb_channels
        while samples > 0:
            n = min(samples, 1024)
            shape = (channels, n) if fmt.endswith("p") else (1, n * channels)
            frame = av.AudioFrame.from_ndarray(np.zeros(shape, dtype), format=fmt, layout=layout)
            frame.sample_rate = ctx.sample_rate
            self._encode(frame)
            samples -= n

    def _encode(self, frame: av.AudioFrame | None) -> None:
        if frame is not None:
            frame.pts = self._next_pts
            frame.time_base = self._out.time_base
            self._next_pts += frame.samples
        else:
            for tail in self._resampler.resample(None):
                self._encode(tail)
        try:
            for out in self._out.encode(frame):
                self._output.mux(out)
        except av.FFmpegError as exc:
            if isinstance(exc, OSError):
                raise  # a write failure (full disk), not a bad frame
            pass  # a frame the encoder refuses is dropped, not fatal
