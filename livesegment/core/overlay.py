"""Colouring and blending: one palette lookup and one integer blend over the whole frame.

An :class:`OverlayStyle` is immutable; the GUI swaps in a new one between frames, so a frame is
never blended half with the old opacity and half with the new.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from livesegment.errors import InputError


@dataclass(frozen=True)
class OverlayStyle:
    """What to paint: the class colours (RGB, class-id order), which classes, how strongly.

    ``selected`` holds class ids to paint; ``None`` means every class but ``background``.
    ``mask_only`` paints the colour map alone (unselected classes black), for inspecting masks.
    """

    palette: np.ndarray
    background: int
    opacity: float = 0.5
    selected: frozenset[int] | None = None
    mask_only: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.opacity <= 1.0:
            raise InputError(f"opacity {self.opacity} is outside 0..1")

    def painted(self) -> frozenset[int]:
        """The class ids that get colour: the selection, never the background."""
        everything = range(len(self.palette))
        ids = everything if self.selected is None else self.selected
        return frozenset(i for i in ids if i != self.background and 0 <= i < len(self.palette))

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        """256-entry lookup tables: BGR colour and blend weight (0..256) per class id."""
        colours = np.zeros((256, 3), np.int32)
        colours[: len(self.palette)] = self.palette[:, ::-1]
        weights = np.zeros(256, np.int32)
        strength = 256 if self.mask_only else int(round(self.opacity * 256))
        for i in self.painted():
            weights[i] = strength
        if self.mask_only:
            weights[:] = 256
            unpainted = np.ones(256, bool)
            unpainted[list(self.painted())] = False
            colours[unpainted] = 0
        return colours, weights


def blend(bgr: torch.Tensor, labels: torch.Tensor, style: OverlayStyle) -> torch.Tensor:
    """Alpha-blend the class colours over the frame; unpainted pixels come back bit-exact.

    Integer arithmetic ``(frame * (256 - a) + colour * a + 128) >> 8`` keeps weight 0 exact (the
    original pixel) and weight 256 exact (the colour). Only painted pixels are computed: the
    rest of the frame is one copy, so the cost follows what is painted, not the frame size.
    """
    colours_np, weights_np = style.tables()
    colours = torch.from_numpy(colours_np).to(bgr.device)
    weights = torch.from_numpy(weights_np).to(bgr.device)
    per_pixel = weights.index_select(0, labels.reshape(-1).long()).view(labels.shape)
    painted = per_pixel > 0
    out = bgr.clone()
    if not bool(painted.any()):
        return out
    a = per_pixel[painted].unsqueeze(-1)
    colour = colours.index_select(0, labels[painted].long())
    out[painted] = ((bgr[painted].to(torch.int32) * (256 - a) + colour * a + 128) >> 8).to(
        torch.uint8)
    return out


def blend_numpy(bgr: np.ndarray, labels: np.ndarray, style: OverlayStyle) -> np.ndarray:
    """:func:`blend` for numpy frames (tests, GUI previews of stored masks)."""
    return blend(torch.from_numpy(bgr), torch.from_numpy(labels), style).numpy()
