"""What each output suffix needs: its video encoder, pixel format and quality scale (its audio
is decided by ``io/video/audio.py``'s ``AUDIO_RULES``, keyed by container).

Pure data and checks, no FFmpeg import: the command line validates ``--codec``/``--crf`` and
lists the choices in ``--help`` before anything heavy loads. ``VideoFileSink`` asks here which
encoder, pixel format and options to use, so a new container is one entry below.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from livesegment.errors import OutputError


@dataclass(frozen=True)
class Encoder:
    """An FFmpeg video encoder and how its quality is set."""

    name: str
    crf_range: tuple[int, int] | None  # None: the encoder has no constant-quality scale
    default_crf: int | None
    pix_fmt: str  # for even picture sizes
    odd_pix_fmt: str | None  # for odd sizes (no chroma subsampling); None: must be even


ENCODERS = {
    e.name: e for e in (
        Encoder("libx264", (0, 51), 20, "yuv420p", "yuv444p"),
        Encoder("libx265", (0, 51), 24, "yuv420p", "yuv444p"),
        # VP9's crf runs 0..63; 32 is its guide's suggested start for 720p-1080p.
        Encoder("libvpx-vp9", (0, 63), 32, "yuv420p", "yuv444p"),
        Encoder("libsvtav1", (1, 63), 35, "yuv420p", None),
        Encoder("mpeg4", None, None, "yuv420p", None),
        Encoder("gif", None, None, "pal8", "pal8"),  # palettes: livesegment/io/gif.py
    )
}


@dataclass(frozen=True)
class OutputFormat:
    """A container chosen by suffix: its default encoder and the ones it accepts."""

    suffix: str
    default: str
    encoders: tuple[str, ...]


FORMATS = {
    f.suffix: f for f in (
        OutputFormat(".mp4", "libx264", ("libx264", "libx265", "libsvtav1", "mpeg4")),
        OutputFormat(".m4v", "libx264", ("libx264", "libx265", "mpeg4")),
        OutputFormat(".mov", "libx264", ("libx264", "libx265", "mpeg4")),
        OutputFormat(".mkv", "libx264", ("libx264", "libx265", "libvpx-vp9", "libsvtav1",
                                         "mpeg4")),
        OutputFormat(".avi", "libx264", ("libx264", "mpeg4")),
        # WebM allows only VP8/VP9/AV1 pictures (and Opus/Vorbis sound: AUDIO_RULES).
        OutputFormat(".webm", "libvpx-vp9", ("libvpx-vp9", "libsvtav1")),
        OutputFormat(".gif", "gif", ("gif",)),
    )
}
VIDEO_OUTPUT_SUFFIXES = frozenset(FORMATS)


def output_format(path: Path) -> OutputFormat:
    """The format a video output's suffix asks for, or an :class:`OutputError` listing them."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise OutputError(f"output {path}: '{suffix or 'no suffix'}' is not a video format we "
                          f"write; use one of {', '.join(sorted(FORMATS))}")
    return FORMATS[suffix]


@dataclass(frozen=True)
class EncodeSettings:
    """What one output is encoded with, resolved from its suffix and the user's options."""

    encoder: Encoder
    crf: int | None

    def pix_fmt(self, width: int, height: int) -> str:
        if width % 2 == 0 and height % 2 == 0 or self.encoder.odd_pix_fmt is None:
            return self.encoder.pix_fmt
        return self.encoder.odd_pix_fmt

    def options(self, preset: str = "superfast", threads: int = 1) -> dict[str, str]:
        """The encoder's private options for constant quality at a live-friendly speed."""
        crf = {} if self.crf is None else {"crf": str(self.crf)}
        name = self.encoder.name
        if name in ("libx264", "libx265"):
            # ``threads``: 1 by default, since on a small CPU the model needs the other cores;
            # 0 lets x264 choose. "superfast": 16 ms per 720p frame vs 25 ms for "veryfast"
            # (files ~1.6x larger); faster presets cost size (BENCHMARKS.md).
            return {**crf, "preset": preset, "threads": str(threads)}
        if name == "libvpx-vp9":
            # Constant quality needs a zero bitrate target; "realtime" + cpu-used 8 keeps VP9
            # near x264 superfast's speed instead of ~20x slower at its "good" default.
            return {**crf, "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1",
                    "threads": str(max(threads, 1))}
        if name == "libsvtav1":
            return {**crf, "preset": "12"}
        return crf


def encode_settings(path: Path, codec: str | None = None, crf: int | None = None
                    ) -> EncodeSettings:
    """Checks ``codec``/``crf`` against ``path``'s container; a misfit is an OutputError."""
    fmt = output_format(path)
    name = codec or fmt.default
    if name not in ENCODERS:
        raise OutputError(f"unknown codec '{name}' (choose from {', '.join(ENCODERS)})")
    if name not in fmt.encoders:
        raise OutputError(f"codec {name} cannot go into a {fmt.suffix} file like {path} "
                          f"(choose from {', '.join(fmt.encoders)})")
    encoder = ENCODERS[name]
    if crf is not None:
        if encoder.crf_range is None:
            raise OutputError(f"--crf does not apply to codec {name}")
        low, high = encoder.crf_range
        if not low <= crf <= high:
            raise OutputError(f"--crf {crf} is outside {low}..{high} for codec {name}")
    return EncodeSettings(encoder, crf if crf is not None else encoder.default_crf)
