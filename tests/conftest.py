"""Shared fixtures: synthetic clips made with PyAV, a fake segmenter, the shared footage."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from torch import nn

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from livesegment.core.segmenter import Segmenter  # noqa: E402
from livesegment.core.models.zoo import get_spec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FOOTAGE = SHARED / "media" / "people_walking_720p.avi"
REFERENCE = Path(__file__).parent / "data" / "reference"
PERSON = 15  # VOC id


def needs_footage() -> pytest.MarkDecorator:
    return pytest.mark.skipif(not FOOTAGE.is_file(), reason="../shared/media not present")


def synthetic_frame(index: int, height: int, width: int) -> np.ndarray:
    """A grey frame with a pure-red square that moves one step per frame."""
    bgr = np.full((height, width, 3), 90, np.uint8)
    bgr[:, :, 0] = np.linspace(40, 160, width, dtype=np.uint8)[None, :]
    side = max(2, min(height, width) // 3)
    x = (index * 4) % max(1, width - side)
    bgr[height // 4: height // 4 + side, x: x + side] = (0, 0, 255)
    return bgr


def make_clip(path: Path, frames: int = 12, size: tuple[int, int] = (96, 128),
              times_s: list[float] | None = None, tone_hz: float | None = None,
              codec: str = "libx264", audio_codec: str = "aac", rate: int = 25,
              time_base: Fraction = Fraction(1, 1000)) -> list[float]:
    """Writes a clip whose frames sit at ``times_s`` (default 1/rate apart); returns the times.

    With ``tone_hz`` it carries a sine tone as long as the pictures.
    """
    height, width = size
    times = times_s or [i / rate for i in range(frames)]
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=rate)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.time_base = time_base
        vs.codec_context.time_base = time_base
        if codec == "libx264":
            vs.options = {"crf": "12", "preset": "ultrafast"}
        aus = None
        if tone_hz:
            aus = out.add_stream(audio_codec, rate=48000)
            aus.layout = "mono" if audio_codec == "pcm_s16le" else "stereo"
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(synthetic_frame(i, height, width), format="bgr24")
            frame.pts = int(round(t / time_base))
            frame.time_base = time_base
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        if aus is not None:
            _write_tone(out, aus, tone_hz, times[-1] + 1 / rate)
    return times


def _write_tone(out, stream, hz: float, seconds: float) -> None:
    rate = 48000
    n = int(rate * seconds)
    t = np.arange(n) / rate
    wave = 0.3 * np.sin(2 * np.pi * hz * t)
    fmt = stream.codec_context.format.name if stream.codec_context.format else "fltp"
    channels = stream.codec_context.layout.nb_channels
    block = 1024
    for start in range(0, n, block):
        chunk = wave[start:start + block]
        if fmt == "s16":
            data = (np.repeat(chunk[None, :], channels, 0).T.reshape(1, -1) * 32767).astype(np.int16)
        else:
            data = np.repeat(chunk[None, :], channels, 0).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(data, format=fmt,
                                           layout=stream.codec_context.layout.name)
        frame.sample_rate = rate
        frame.pts = start
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


def read_clip(path: Path) -> tuple[list[float], list[np.ndarray]]:
    """Decoded frame times and pictures, in display order."""
    with av.open(str(path)) as c:
        frames = list(c.decode(video=0))
        return [float(f.time) for f in frames], [f.to_ndarray(format="bgr24") for f in frames]


class RedIsPerson(nn.Module):
    """A stand-in model: 'person' wherever the input is strongly red, background elsewhere.

    Deterministic and fast, so pipeline tests can assert exact pixels and class ids.
    """

    def __init__(self, num_classes: int = 21, delay_s: float = 0.0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.delay_s = delay_s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.delay_s:
            import time

            time.sleep(self.delay_s)
        red = x[:, 0] - (x[:, 1] + x[:, 2]) / 2  # normalised RGB input
        logits = torch.zeros(x.shape[0], self.num_classes, *x.shape[2:], dtype=x.dtype)
        logits[:, PERSON] = red - 1.5
        return logits


def fake_segmenter(size: int = 64, delay_s: float = 0.0) -> Segmenter:
    spec = get_spec("espnetv2-voc")
    return Segmenter(spec, RedIsPerson(delay_s=delay_s).eval(), torch.device("cpu"), size)


@pytest.fixture(scope="session")
def voc_segmenter() -> Segmenter:
    return Segmenter.create("espnetv2-voc", "cpu")


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    make_clip(path)
    return path
