"""From a BGR uint8 frame to the model's normalised input tensor, on any device."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from livesegment.core.budget import MAX_MODEL_PIXELS, MAX_MODEL_SIDE, bounded_scale
from livesegment.errors import InputError


def inference_size(height: int, width: int, short_side: int, multiple: int) -> tuple[int, int]:
    """Input (h, w) whose short side is about ``short_side``, both sides multiples of ``multiple``.

    The aspect ratio is kept as closely as the multiple allows, so people are not squashed.
    Both sides bound the scale: a long thin picture (1x30000) gets a long side of at most
    :data:`MAX_MODEL_SIDE` and any input at most :data:`MAX_MODEL_PIXELS`, its short side then
    below ``short_side``, rather than a model input of gigabytes.
    """
    if min(height, width) <= 0:
        raise InputError(f"an empty picture ({width}x{height} pixels) cannot be segmented")
    if short_side < multiple:
        raise InputError(f"inference size {short_side} is too small: this model needs at least "
                         f"{multiple} (a multiple of {multiple})")
    scale = bounded_scale(height, width, short_side / min(height, width), MAX_MODEL_SIDE,
                          MAX_MODEL_PIXELS)

    def fit(side: int, to_whole=round) -> int:
        return max(multiple, int(to_whole(side * scale / multiple)) * multiple)

    h, w = fit(height), fit(width)
    if h * w > MAX_MODEL_PIXELS or max(h, w) > MAX_MODEL_SIDE:  # rounding up crossed a bound
        h, w = fit(height, math.floor), fit(width, math.floor)
    return h, w


def frame_tensor(bgr: torch.Tensor) -> torch.Tensor:
    """HxWx3 uint8 BGR (a view of the frame) -> 1x3xHxW float RGB in 0..255, no copy of pixels."""
    return bgr.permute(2, 0, 1).flip(0).unsqueeze(0).float()


def to_model_input(bgr: torch.Tensor, size: tuple[int, int], mean: tuple[float, ...],
                   std: tuple[float, ...], dtype: torch.dtype,
                   resize_uint8: bool | None = None) -> torch.Tensor:
    """Resize (anti-aliased when shrinking), then scale and normalise in one multiply-add.

    ``bgr`` is the HxWx3 uint8 frame already on the target device, so on CUDA the frame crosses
    the bus once and every step after runs on the GPU. On the CPU the resize runs on the uint8
    pixels (6x faster than on floats: it reads a quarter of the bytes), at most one grey level
    from the float result. ``resize_uint8`` overrides that choice (tests run the CUDA branch on
    the CPU with it).
    """
    if resize_uint8 is None:
        resize_uint8 = bgr.device.type == "cpu"
    height, width = bgr.shape[:2]
    if (height, width) != tuple(size):
        shrinking = size[0] < height or size[1] < width
        if resize_uint8:
            small = F.interpolate(bgr.permute(2, 0, 1).unsqueeze(0), size=size, mode="bilinear",
                                  align_corners=False, antialias=shrinking)
            x = small.flip(1).float()
        else:
            x = F.interpolate(frame_tensor(bgr), size=size, mode="bilinear",
                              align_corners=False, antialias=shrinking)
    else:
        x = frame_tensor(bgr)
    mean_t = torch.tensor(mean, device=x.device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=x.device).view(1, 3, 1, 1)
    x = x.mul_(1.0 / (255.0 * std_t)).sub_(mean_t / std_t)
    return x.to(dtype)
