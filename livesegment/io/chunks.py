"""One video cut at keyframes into time chunks, and encoded chunks joined back without re-encoding.

Why keyframes: decoding can start there, so each chunk is read independently. Why an
intermediate MP4 per chunk: its timescale is the source's time base or an integer multiple of
it, so every packet keeps the exact timestamp of its source frame, and it holds H.264 with its
headers out of band, as the final MP4 wants them. (Tried: NUT rewrote a 1/1000 time base to
1/64000 and shifted every timestamp by the B-frame delay; MPEG-TS rounds to 90 kHz.) Chunks are
joinable because every chunk is encoded by the same :class:`~livesegment.io.video.VideoFileSink`
settings (codec, size, pixel format, time base, preset, CRF): x264 then emits identical
parameter sets, each chunk starts with an IDR picture (no open GOP), and the joined stream
decodes with the first chunk's headers.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from livesegment.errors import InputError, OutputError
from livesegment.io.paths import partial_path
from livesegment.io.video import audio_plan

CHUNK_SUFFIX = ".mp4"


@dataclass(frozen=True)
class VideoIndex:
    """Where a video's frames and keyframes sit, read from packets alone (nothing decoded)."""

    time_base: Fraction
    frame_ticks: tuple[int, ...]  # every frame's pts, in display order
    key_ticks: tuple[int, ...]  # keyframes' pts, increasing

    @property
    def duration_s(self) -> float:
        if len(self.frame_ticks) < 2:
            return 0.0
        return float((self.frame_ticks[-1] - self.frame_ticks[0]) * self.time_base)


@dataclass(frozen=True)
class ChunkSpan:
    """A chunk's share of the frames: it writes those with ``start_s <= pts < end_s``, after
    running the model (without writing) on those from ``warm_s``; decoding starts at the
    keyframe ``seek_s``. Times are the source's, in seconds; ``end_s`` None: to the end."""

    index: int
    seek_s: float
    warm_s: float
    start_s: float
    end_s: float | None
    frames: int  # frames it writes (for progress)


def index_video(path: Path) -> VideoIndex:
    """Reads the packet headers of ``path``'s first video stream."""
    try:
        container = av.open(str(path))
    except (av.FFmpegError, ValueError) as exc:
        raise InputError(f"cannot read video {path}: {str(exc).split(': ')[0]}") from None
    with container:
        if not container.streams.video:
            raise InputError(f"no video stream in {path}")
        stream = container.streams.video[0]
        frames: list[int] = []
        keys: list[int] = []
        try:
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    continue
                frames.append(packet.pts)
                if packet.is_keyframe:
                    keys.append(packet.pts)
        except av.FFmpegError:
            pass  # a truncated tail: plan with what was read
        return VideoIndex(stream.time_base or Fraction(1, 1000), tuple(sorted(frames)),
                          tuple(sorted(keys)))


def plan_chunks(index: VideoIndex, chunks: int, overlap: int) -> list[ChunkSpan]:
    """Up to ``chunks`` spans of about equal duration, cut at keyframes.

    ``overlap``: frames before a chunk's first written frame that its worker runs through the
    model anyway, so per-stream state (temporal smoothing) is warm when writing starts.
    """
    ticks, tb = index.frame_ticks, index.time_base
    if not ticks:
        return []
    first, last = ticks[0], ticks[-1]
    cuts: list[int] = []
    for k in range(1, max(1, chunks)):
        target = first + (last - first) * k / chunks
        candidates = [t for t in index.key_ticks if first < t <= last]
        if not candidates:
            break
        cut = min(candidates, key=lambda t: abs(t - target))
        if cut not in cuts and (not cuts or cut > cuts[-1]):
            cuts.append(cut)
    bounds = [first, *cuts]
    spans = []
    for i, start in enumerate(bounds):
        end = bounds[i + 1] if i + 1 < len(bounds) else None
        position = ticks.index(start)
        warm = ticks[max(0, position - overlap)]
        seek = max((t for t in index.key_ticks if t <= warm), default=first)
        count = sum(1 for t in ticks if t >= start and (end is None or t < end))
        spans.append(ChunkSpan(i, float(seek * tb), float(warm * tb), float(start * tb),
                               None if end is None else float(end * tb), count))
    return spans


def chunk_folder(output: Path) -> Path:
    """The hidden folder beside ``output`` that holds its encoded chunks until they are joined."""
    return output.with_name(f".{output.name}.chunks")


def chunk_path(output: Path, index: int) -> Path:
    return chunk_folder(output) / f"{index:04d}{CHUNK_SUFFIX}"


def join_chunks(chunks: list[Path], output: Path, audio_from: Path | None = None) -> int:
    """Remuxes the chunks' packets, in order, into ``output`` (atomically) and copies the audio
    of ``audio_from`` once; returns the number of video frames. Nothing is re-encoded."""
    if not chunks:
        raise OutputError(f"no chunk to join into {output}")
    tmp = partial_path(output)
    try:
        frames = _remux(chunks, tmp, output, audio_from)
        os.replace(tmp, output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return frames


def _remux(chunks: list[Path], tmp: Path, output: Path, audio_from: Path | None) -> int:
    frames = 0
    with av.open(str(chunks[0])) as first, av.open(str(tmp), "w") as out:
        template = first.streams.video[0]
        video = out.add_stream_from_template(template)
        video.time_base = template.time_base
        sound = SourceAudio(audio_from, out) if audio_from is not None else None
        last_dts: int | None = None
        try:
            for path in chunks:
                with av.open(str(path)) as chunk:
                    stream = chunk.streams.video[0]
                    if stream.time_base != template.time_base:
                        raise OutputError(f"chunk {path} of {output} has another time base")
                    for packet in chunk.demux(stream):
                        if packet.size == 0:
                            continue
                        last_dts = _monotonic_dts(packet, last_dts)
                        if sound is not None and packet.pts is not None:
                            sound.mux_until(float(packet.pts * stream.time_base))
                        packet.stream = video
                        out.mux(packet)
                        frames += 1
            if sound is not None:
                sound.mux_until(None)
        finally:
            if sound is not None:
                sound.close()
    return frames


class SourceAudio:
    """The source's audio tracks copied once into the joined file, interleaved by time.

    Copied, never re-encoded: a track the container cannot hold as it is (which a one-machine
    run would transcode) is left out, as :func:`audio_plan` decides.
    """

    def __init__(self, source: Path, out: av.container.OutputContainer) -> None:
        self._input = av.open(str(source))
        container = out.format.name.split(",")[0]
        tracks = [s for s in self._input.streams.audio
                  if audio_plan(container, s.codec_context.name, out.supported_codecs) == "copy"]
        self._outs = {s.index: out.add_stream_from_template(s) for s in tracks}
        self._out = out
        self._packets = self._input.demux(*tracks) if tracks else iter(())
        self._pending: av.Packet | None = None

    def mux_until(self, t_s: float | None) -> None:
        """Writes the audio packets up to ``t_s`` seconds (all of them when ``None``)."""
        while True:
            packet = self._pending or next(self._packets, None)
            if packet is None:
                return
            if packet.size == 0:
                self._pending = None
                continue
            if t_s is not None and packet.pts is not None and \
                    float(packet.pts * packet.time_base) > t_s:
                self._pending = packet
                return
            self._pending = None
            packet.stream = self._outs[packet.stream.index]
            self._out.mux(packet)

    def close(self) -> None:
        self._input.close()


def _monotonic_dts(packet: av.Packet, last: int | None) -> int | None:
    """Decode times must rise across the seam; x264's B-frame delay starts each chunk's first
    decode time before its first picture, which on a variable-rate source can reach back past
    the previous chunk's last one. Never later than the packet's own picture time."""
    if packet.dts is None:
        return last
    if last is not None and packet.dts <= last:
        packet.dts = min(last + 1, packet.pts if packet.pts is not None else last + 1)
    return packet.dts


def remove_chunks(output: Path) -> None:
    shutil.rmtree(chunk_folder(output), ignore_errors=True)
