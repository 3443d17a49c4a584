"""The data that flows between stages: one small frozen record per stage, arrays never copied."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass(frozen=True, eq=False)
class Frame:
    """A decoded picture: ``bgr`` is HxWx3 uint8; ``pts_s`` its presentation time in seconds.

    ``captured_at`` is the ``time.monotonic()`` reading when the picture arrived, for latency.
    """

    index: int
    pts_s: float
    bgr: np.ndarray
    captured_at: float = 0.0


@dataclass(frozen=True, eq=False)
class Inference:
    """A frame and the model's raw logits (still on the compute device), before composition.

    ``pixels`` is the frame as a tensor on that device, so composing does not upload it again.
    ``probabilities`` (1xCxhxw float32), when set, are temporally smoothed class probabilities
    that composing uses instead of the logits. ``guide`` (1x3xhxw float BGR, 0..255), when
    set, is the frame shrunk to the logits' grid (smoothing made it; refinement reuses it).
    """

    frame: Frame
    logits: torch.Tensor
    pixels: torch.Tensor
    timings: dict[str, float] = field(default_factory=dict)
    probabilities: torch.Tensor | None = None
    guide: torch.Tensor | None = None


@dataclass(frozen=True, eq=False)
class Composed:
    """The overlay for one frame: ``image`` (HxWx3 uint8 BGR; HxWx4 BGRA for the alpha effect)
    and ``labels`` (HxW uint8 ids).

    ``timings`` holds stage durations (s); ``ready_at`` the monotonic clock when it was done.
    ``mask_age_s``: how much older the frame the mask came from is than this frame (live mode
    at the camera's pace paints every frame with the newest mask; 0 when they are the same).
    """

    frame: Frame
    image: np.ndarray
    labels: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)
    ready_at: float = 0.0
    mask_age_s: float = 0.0
