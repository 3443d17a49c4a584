"""Generators for the kinds of files users actually have (issue 13), all made here with PyAV.

Each returns the path it wrote; the pictures are ``synthetic_frame`` (a red square on a
gradient) so a test can tell top from bottom and left from right, and audio is a sine tone.
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.conftest import synthetic_frame

TB = Fraction(1, 90000)  # MPEG-TS's own clock


def asymmetric_frame(index: int, height: int, width: int) -> np.ndarray:
    """A picture whose orientation is unmistakable: a red block top-left, a green one
    bottom-left, over the moving-square frame."""
    bgr = synthetic_frame(index, height, width)
    h, w = max(2, height // 4), max(2, width // 4)
    bgr[:h, :w] = (0, 0, 255)
    bgr[-h:, :w] = (0, 255, 0)
    return bgr


def write_video(path: Path, frames: int = 12, size: tuple[int, int] = (48, 64),
                start_s: float = 0.0, rate: int = 25, rotation: int | None = None,
                sar: Fraction | None = None, audio: list[dict] | None = None,
                subtitle: bool = False, fmt: str | None = None, codec: str = "libx264",
                pix_fmt: str = "yuv420p", picture=asymmetric_frame) -> Path:
    """A video (H.264 4:2:0) with frames from ``start_s``, and optional audio tracks.

    ``audio``: one dict per track: ``codec``, ``rate``, ``layout`` (None: leave it unset),
    ``channels``, ``start_s``, ``seconds``, ``hz``.
    """
    height, width = size
    target, path = path, path.with_name(f"generated{path.suffix}")  # any name, even not UTF-8
    with av.open(str(path), "w", format=fmt) as out:
        vs = out.add_stream(codec, rate=rate)
        vs.width, vs.height, vs.pix_fmt = width, height, pix_fmt
        tb = Fraction(1, rate) if codec == "mpeg2video" else TB  # MPEG-2 keeps its own clock
        if codec != "mpeg2video":
            vs.time_base = vs.codec_context.time_base = tb
        if codec == "libx264":
            vs.options = {"crf": "12", "preset": "ultrafast"}
        if sar is not None:
            vs.codec_context.sample_aspect_ratio = sar
        if rotation is not None:
            vs.set_display_rotation(rotation)
        tracks = [(out.add_stream(a["codec"], rate=a.get("rate", 48000)), a) for a in audio or ()]
        for stream, spec in tracks:
            if spec.get("layout"):
                stream.layout = spec["layout"]
        sub = out.add_stream("subrip") if subtitle else None
        if sub is not None:
            sub.codec_context.subtitle_header = b"[Script Info]\n"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(picture(i, height, width), format="bgr24").reformat(
                format=pix_fmt)
            frame.pts = int(round((start_s + i / rate) / tb))
            if codec != "mpeg2video":
                frame.time_base = tb
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        for stream, spec in tracks:
            seconds = spec.get("seconds", frames / rate)
            first = spec.get("start_s", start_s)
            if "hole_s" in spec:  # a dropout: the sound stops, then resumes on its own clock
                half = seconds / 2
                write_tone(out, stream, spec.get("hz", 440.0), half, first, flush=False)
                first += half + spec["hole_s"]
                seconds -= half
            write_tone(out, stream, spec.get("hz", 440.0), seconds, first)
        if sub is not None:
            packet = av.Packet(b"hello")
            packet.stream = sub
            packet.pts = packet.dts = int(round(start_s * 1000))
            packet.duration = 200
            packet.time_base = Fraction(1, 1000)
            out.mux(packet)
    path.replace(target)
    return target


def write_tone(out, stream, hz: float, seconds: float, start_s: float,
               flush: bool = True) -> None:
    ctx = stream.codec_context
    rate = ctx.sample_rate
    fmt = ctx.format.name if ctx.format else "fltp"
    channels = ctx.channels
    layout = ctx.layout.name if ctx.layout.name else None
    n = int(rate * seconds)
    wave = 0.3 * np.sin(2 * np.pi * hz * np.arange(n) / rate)
    block = 1024
    first = int(round(start_s * rate))
    for start in range(0, n, block):
        chunk = wave[start:start + block]
        planes = np.repeat(chunk[None, :], channels, 0)
        if fmt.startswith("s16"):
            data = (planes * 32767).astype(np.int16)
        elif fmt.startswith("s32"):
            data = (planes * 2**31 * 0.99).astype(np.int32)
        else:
            data = planes.astype(np.float32)
        if not fmt.endswith("p"):
            data = data.T.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(data, format=fmt,
                                           layout=layout or f"{channels}c")
        frame.sample_rate = rate
        frame.pts = first + start
        frame.time_base = Fraction(1, rate)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None) if flush else ():
        out.mux(packet)


def first_times(path: Path) -> dict[str, list[float]]:
    """The first decoded time of each stream, as a player sees it: ``{"video": [t],
    "audio": [t0, t1, ...]}``, one per audio track (decoded, so edit lists apply)."""
    firsts: dict[int, float] = {}
    with av.open(str(path)) as c:
        wanted = [*c.streams.video[:1], *c.streams.audio]
        kinds = {s.index: s.type for s in wanted}
        for packet in c.demux(wanted):
            if packet.stream.index in firsts:
                continue
            for frame in packet.decode():
                firsts[packet.stream.index] = float(frame.time)
                break
            if len(firsts) == len(wanted):
                break
    times: dict[str, list[float]] = {"video": [], "audio": []}
    for index in sorted(firsts):
        times[kinds[index]].append(firsts[index])
    return times


def audio_offset(path: Path) -> float:
    """First audio minus first video time, in seconds (the lip-sync offset a player keeps)."""
    times = first_times(path)
    return times["audio"][0] - times["video"][0]


def tone_onset(path: Path, track: int = 0, after_s: float = -1e9) -> float:
    """When the tone becomes audible, relative to the first picture: the sync a listener
    hears, free of how each container accounts for an encoder's priming samples."""
    with av.open(str(path)) as c:
        first_picture = float(next(c.decode(video=0)).time)
    with av.open(str(path)) as c:
        for frame in c.decode(c.streams.audio[track]):
            samples = frame.to_ndarray().astype(float)
            channels = frame.layout.nb_channels if frame.format.is_packed else 1
            mono = samples.reshape(-1)[::channels] if frame.format.is_packed else samples[0]
            scale = 32767.0 if frame.format.name.startswith("s16") else 1.0
            times = float(frame.time) + np.arange(len(mono)) / frame.sample_rate - first_picture
            loud = np.nonzero((np.abs(mono) > 0.05 * scale) & (times > after_s))[0]
            if len(loud):
                return float(times[loud[0]])
    raise AssertionError(f"no sound in {path}")


def animated_picture(path: Path, frames: int = 5, size: tuple[int, int] = (48, 64)) -> Path:
    """An animated WebP, APNG or GIF (by suffix), written with Pillow."""
    from PIL import Image

    height, width = size
    pictures = [Image.fromarray(asymmetric_frame(i, height, width)[:, :, ::-1].copy())
                for i in range(frames)]
    fmt = {".webp": "WEBP", ".png": "PNG", ".gif": "GIF", ".apng": "PNG"}[path.suffix.lower()]
    extra = {"lossless": True} if fmt == "WEBP" else {}
    pictures[0].save(path, format=fmt, save_all=True, append_images=pictures[1:], duration=80,
                     loop=0, **extra)
    return path


def exif_photo(path: Path, orientation: int, size: tuple[int, int] = (48, 64)) -> np.ndarray:
    """A JPEG/PNG/WebP whose stored pixels need EXIF ``orientation`` to be shown upright;
    returns the stored (un-rotated) BGR pixels."""
    from PIL import Image

    stored = asymmetric_frame(0, *size)
    image = Image.fromarray(stored[:, :, ::-1].copy())
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}[path.suffix.lower()]
    extra = {"quality": 100} if fmt == "JPEG" else {"lossless": True} if fmt == "WEBP" else {}
    image.save(buffer, format=fmt, exif=exif.tobytes(), **extra)
    path.write_bytes(buffer.getvalue())
    return stored
