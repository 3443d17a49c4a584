"""Effects: what the composed picture shows, given a frame and its class ids.

Each effect is a small immutable object with one method, ``apply(picture, labels, pts_s)``,
in the spirit of supervision's annotators: they chain (blur the background, then tint the
person with an overlay), and the GUI swaps a new one in between frames.

"Foreground" is every selected class (by default every class but the model's background), so
the same effects work with a portrait model and with a 21-class VOC model. A :class:`Matte`
turns class ids into an 8-bit alpha plane: grow or shrink the edge, feather it, cut it at a
threshold. Compositing stays in uint8 with OpenCV (whole-frame passes, no float planes at full
resolution): measured in BENCHMARKS.md ("Effects").

Backgrounds that change over time (a video) come from a :class:`Backdrop`: anything with
``picture_at(pts_s, size)``. Reading files is the io layer's job (``livesegment.io.backgrounds``);
this module only scales pictures (:func:`cover`) and mixes them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Protocol

import cv2
import numpy as np
import torch

from livesegment.core.compose.overlay import OverlayStyle, blend
from livesegment.errors import InputError

EFFECT_NAMES = ("overlay", "blur", "replace", "color", "alpha")


class Effect(Protocol):
    """Turns a frame (HxWx3 uint8 BGR) and its HxW uint8 class ids into the shown picture."""

    def apply(self, picture: np.ndarray, labels: np.ndarray, pts_s: float = 0.0) -> np.ndarray:
        ...


class Backdrop(Protocol):
    """A background picture for each moment, already at the frame's size (HxWx3 uint8 BGR)."""

    def picture_at(self, pts_s: float, size: tuple[int, int]) -> np.ndarray:
        ...


# -- the matte ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Matte:
    """Which class ids are kept (the person), and how the edge between kept and not is drawn.

    ``grow`` moves the edge outwards (negative: inwards) by that many pixels; ``feather`` makes
    the edge a linear ramp that many pixels wide, centred on it; ``threshold`` (0..1) then
    clears alpha below it and stretches the rest back to 0..255, trimming the faint outer part
    of the ramp, where a background halo would show.

    ``region`` (HxW uint8, 255 = kept) is kept besides the classes: an object the model has no
    class for, clicked in the live view. It joins before the edge is drawn, so it gets the
    same grow, feather and threshold as the classes, and the blur leaves it out of its
    average as it does the person. Not compared: two mattes differ by it only from frame to
    frame, and arrays have no single truth value.
    """

    keep: frozenset[int]
    classes: int = 0  # how many classes the model it was made for has (0: not known)
    grow: int = 0
    feather: int = 0
    threshold: float = 0.0
    region: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.feather < 0:
            raise InputError(f"feather {self.feather} must be 0 or more pixels")
        if not 0.0 <= self.threshold < 1.0:
            raise InputError(f"threshold {self.threshold} is outside 0..1 (1 excluded)")

    @classmethod
    def for_classes(cls, num_classes: int, background: int,
                    selected: Iterable[int] | None = None, **edge) -> Matte:
        """``selected`` ids, or every class but ``background`` when ``None``."""
        ids = range(num_classes) if selected is None else selected
        return cls(frozenset(i for i in ids if 0 <= i < num_classes and
                             (selected is not None or i != background)), num_classes, **edge)

    @cached_property
    def key_table(self) -> np.ndarray:
        table = np.zeros(256, np.uint8)
        table[sorted(i for i in self.keep if 0 <= i < 256)] = 255
        return table

    @cached_property
    def ramp_table(self) -> np.ndarray:
        """The threshold as a 256-entry lookup: ``max(0, a - t) * 255 / (255 - t)``."""
        t = self.threshold * 255.0
        ramp = np.clip((np.arange(256) - t) * 255.0 / (255.0 - t), 0, 255)
        return np.round(ramp).astype(np.uint8)

    def hard(self, labels: np.ndarray) -> np.ndarray:
        """255 on kept pixels, 0 elsewhere, after growing/shrinking the edge."""
        mask = cv2.LUT(np.ascontiguousarray(labels), self.key_table)
        if self.region is not None:
            if self.region.shape != mask.shape:
                raise ValueError(f"kept region is {self.region.shape[1]}x{self.region.shape[0]}"
                                 f", the labels {mask.shape[1]}x{mask.shape[0]}")
            cv2.bitwise_or(mask, self.region, dst=mask)
        return move_edge(mask, self.grow) if self.grow else mask

    def alpha(self, labels: np.ndarray) -> np.ndarray:
        """HxW uint8 opacity of the foreground: 255 inside, 0 outside, a ramp at the edge."""
        return self.soften(self.hard(labels))

    def soften(self, mask: np.ndarray) -> np.ndarray:
        """The feather and threshold applied to a :meth:`hard` mask."""
        if self.feather > 1:
            # A box filter turns a step into a linear ramp exactly ``feather`` pixels wide, at
            # a cost independent of the width. Wider than twice the picture it only flattens
            # further, and OpenCV's sums overflow (or fail to allocate) far beyond: capped.
            width = min(self.feather, 2 * max(mask.shape[:2]) + 1)
            mask = cv2.blur(mask, (width, width), borderType=cv2.BORDER_REPLICATE)
        if self.threshold > 0:
            mask = cv2.LUT(mask, self.ramp_table)
        return mask

    @property
    def soft(self) -> bool:
        """Whether :meth:`alpha` can hold values between 0 and 255."""
        return self.feather > 1


EXACT_GROW = 8  # up to this radius the edge moves by an elliptic kernel; beyond, by distance


def move_edge(mask: np.ndarray, by: int) -> np.ndarray:
    """The kept (255) region of ``mask`` grown by ``by`` pixels, or shrunk when negative.

    Small radii dilate or erode with an elliptic kernel; its cost grows with the radius
    squared (200 px: 2.4 s a 720p frame), so wider moves threshold a Euclidean distance
    transform instead (30 ms whatever the radius). Past both sides of the picture the answer is
    known without either: everything kept, or nothing.
    """
    r = abs(by)
    h, w = mask.shape[:2]
    if r >= h + w:
        reached = bool(mask.any()) if by > 0 else bool(mask.all())
        return np.full_like(mask, 255 if reached else 0)
    if r <= EXACT_GROW:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        return (cv2.dilate if by > 0 else cv2.erode)(mask, kernel)
    if by > 0:  # kept where the nearest kept pixel is within r
        distance = cv2.distanceTransform(cv2.bitwise_not(mask), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        return np.where(distance <= r, 255, 0).astype(np.uint8)
    distance = cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.where(distance > r, 255, 0).astype(np.uint8)


def composite(front: np.ndarray, back: np.ndarray, alpha: np.ndarray, soft: bool = True,
              in_place: bool = False) -> np.ndarray:
    """``front`` over ``back`` with 8-bit ``alpha``: ``front*a/255 + back*(255-a)/255``, each
    term rounded (so within one grey level of the exact mix).

    Where alpha is 255 the front comes back bit-exact, where it is 0 the back. A hard matte
    (``soft=False``: only 0 and 255) is one masked copy; a soft one five whole-frame uint8
    passes (measured faster than mixing only the edge band's pixels with numpy).
    ``in_place`` lets a hard matte write into ``back`` (a scratch picture the caller made).
    """
    if not soft:
        out = back if in_place else back.copy()
        cv2.copyTo(front, alpha, out)
        return out
    a3 = cv2.merge((alpha, alpha, alpha))
    kept = cv2.multiply(front, a3, scale=1 / 255)
    rest = cv2.multiply(back, cv2.bitwise_not(a3), scale=1 / 255)
    return cv2.add(kept, rest)


# -- backgrounds --------------------------------------------------------------------------------
def cover(picture: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``picture`` scaled to fill ``size`` (h, w) keeping its aspect ratio, centre-cropped, as a
    wallpaper or CSS ``background-size: cover`` does: no bars, no distortion.

    Only the window of ``picture`` that shows is scaled, straight to ``size``: a long thin
    strip, enlarged until its short side fills the frame, would otherwise be scaled whole to
    gigabytes (a 1x200000 strip behind a 720p frame: 720x144 million pixels).
    """
    h, w = size
    ph, pw = picture.shape[:2]
    if (ph, pw) == (h, w):
        return picture
    if ph * pw == 1:  # a plain colour
        return np.ascontiguousarray(np.broadcast_to(picture[:1, :1], (h, w, *picture.shape[2:])))
    scale = max(h / ph, w / pw)
    if scale == 1:  # one side fits already: a plain centre crop, pixels untouched
        y, x = (ph - h) // 2, (pw - w) // 2
        return np.ascontiguousarray(picture[y:y + h, x:x + w])
    win_w, win_h = min(pw, w / scale), min(ph, h / scale)  # the window that shows, in pixels
    x0, y0 = (pw - win_w) / 2, (ph - win_h) / 2
    if scale < 1:  # shrinking: an area average of the window's whole pixels
        window = picture[int(y0):math.ceil(y0 + win_h), int(x0):math.ceil(x0 + win_w)]
        return cv2.resize(window, (w, h), interpolation=cv2.INTER_AREA)
    # Enlarging: bilinear with half-pixel centres (as cv2.resize), each output pixel mapped to
    # its place in the source, so nothing larger than the frame is ever made.
    left, top = int(x0), int(y0)
    window = picture[top:math.ceil(y0 + win_h) + 1, left:math.ceil(x0 + win_w) + 1]
    to_source = np.float32([[1 / scale, 0, x0 - left + 0.5 / scale - 0.5],
                            [0, 1 / scale, y0 - top + 0.5 / scale - 0.5]])
    return cv2.warpAffine(window, to_source, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


@dataclass(frozen=True, eq=False)
class StillBackdrop:
    """One picture for every frame; its scaled copy is kept per frame size."""

    picture: np.ndarray
    _scaled: dict = field(default_factory=dict, repr=False)

    def picture_at(self, pts_s: float, size: tuple[int, int]) -> np.ndarray:
        if size not in self._scaled:
            self._scaled.clear()
            self._scaled[size] = cover(self.picture, size)
        return self._scaled[size]


def solid(bgr: tuple[int, int, int]) -> StillBackdrop:
    """A plain colour (a green screen) as a backdrop."""
    return StillBackdrop(np.array(bgr, np.uint8).reshape(1, 1, 3))


def parse_colour(text: str) -> tuple[int, int, int]:
    """``#RRGGBB`` (or ``RRGGBB``) -> BGR tuple; anything else is an :class:`InputError`."""
    m = re.fullmatch(r"#?([0-9a-fA-F]{6})", text.strip())
    if m is None:
        raise InputError(f"colour '{text}' is not #RRGGBB (for example #00b140)")
    r, g, b = (int(m.group(1)[i:i + 2], 16) for i in (0, 2, 4))
    return (b, g, r)


# -- effects ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OverlayEffect:
    """Today's class-colour overlay (:mod:`livesegment.core.compose.overlay`), bit for bit."""

    style: OverlayStyle

    def apply(self, picture: np.ndarray, labels: np.ndarray, pts_s: float = 0.0) -> np.ndarray:
        return blend(torch.from_numpy(picture), torch.from_numpy(labels), self.style).numpy()


@dataclass(frozen=True)
class BlurEffect:
    """The background blurred with a Gaussian of ``strength`` pixels (sigma at full size).

    Cheap: the blur runs on a copy shrunk so that sigma is ~4 pixels there, then is enlarged
    once. Mask-aware (normalised convolution): person pixels are left out of the average and
    the weights renormalised, so the person's colours do not bleed into a halo around them.
    """

    matte: Matte
    strength: float = 15.0

    def __post_init__(self) -> None:
        if not 0.0 < self.strength <= 500.0:
            raise InputError(f"blur strength {self.strength} is outside 0..500 pixels")

    def apply(self, picture: np.ndarray, labels: np.ndarray, pts_s: float = 0.0) -> np.ndarray:
        person = self.matte.hard(labels)
        alpha = self.matte.soften(person)
        return composite(picture, self.blurred(picture, person), alpha, self.matte.soft,
                         in_place=True)

    def blurred(self, picture: np.ndarray, person: np.ndarray) -> np.ndarray:
        """The picture blurred from background pixels only (``person`` 255 = left out).

        Normalised convolution: blur (frame x weight) and the weight with the same linear
        filters, divide. Shrinking by an area average is such a filter (a box of ``step``
        pixels), so it is part of the blur; the rest of sigma runs at the small size.
        """
        h, w = picture.shape[:2]
        step = 1
        while step * 2 * 1.5 <= self.strength and min(h, w) >= step * 2 * 8:
            step *= 2
        small = (max(1, w // step), max(1, h // step))
        weight = cv2.bitwise_not(person)
        num = cv2.bitwise_and(picture, picture, mask=weight)
        num = cv2.resize(num, small, interpolation=cv2.INTER_AREA).astype(np.float32)
        den = cv2.resize(weight, small, interpolation=cv2.INTER_AREA).astype(np.float32)
        # A box of width n has variance (n^2 - 1) / 12; Gaussians add in quadrature.
        sigma = float(np.sqrt(max(0.25, self.strength ** 2 - (step ** 2 - 1) / 12))) / step
        num = cv2.GaussianBlur(num, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        den = cv2.GaussianBlur(den, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        # Where no background is near (deep inside the person) there is nothing to average;
        # those pixels only ever show under an opaque person, so black does.
        ratio = num * (255.0 / np.maximum(den, 1e-3))[..., None]
        small_bgr = np.clip(ratio + 0.5, 0, 255).astype(np.uint8)
        small_bgr[den < 1e-3] = 0
        return cv2.resize(small_bgr, (w, h), interpolation=cv2.INTER_LINEAR)


@dataclass(frozen=True)
class ReplaceEffect:
    """The background replaced by a picture, a video (a :class:`Backdrop`) or a colour."""

    matte: Matte
    backdrop: Backdrop

    def apply(self, picture: np.ndarray, labels: np.ndarray, pts_s: float = 0.0) -> np.ndarray:
        back = self.backdrop.picture_at(pts_s, picture.shape[:2])
        return composite(picture, back, self.matte.alpha(labels), self.matte.soft)


@dataclass(frozen=True)
class AlphaEffect:
    """A transparent background: HxWx4 BGRA, the colours untouched, the matte as alpha."""

    matte: Matte

    def apply(self, picture: np.ndarray, labels: np.ndarray, pts_s: float = 0.0) -> np.ndarray:
        out = np.empty((*picture.shape[:2], 4), np.uint8)
        cv2.mixChannels([picture, self.matte.alpha(labels)], [out], [0, 0, 1, 1, 2, 2, 3, 3])
        return out


@dataclass(frozen=True)
class Chain:
    """Effects applied in order, each to the previous one's picture (supervision's pattern of
    annotating the same scene repeatedly). A BGRA-producing effect must come last."""

    effects: tuple[Effect, ...]

    def __post_init__(self) -> None:
        if any(isinstance(e, AlphaEffect) for e in self.effects[:-1]):
            raise InputError("the alpha effect must be the last in a chain")

    def apply(self, picture: np.ndarray, labels: np.ndarray, pts_s: float = 0.0) -> np.ndarray:
        for effect in self.effects:
            picture = effect.apply(picture, labels, pts_s)
        return picture


# -- the compositor's entry points --------------------------------------------------------------
def render(look: OverlayStyle | Effect, pixels: torch.Tensor, labels: torch.Tensor,
           pts_s: float = 0.0) -> np.ndarray:
    """The composed picture as a host array. An overlay (style or effect) blends where the
    frame lives (the GPU path stays on the GPU); other effects run on the CPU with OpenCV."""
    if isinstance(look, OverlayEffect):
        look = look.style
    if isinstance(look, OverlayStyle):
        return blend(pixels, labels, look).cpu().numpy()
    return look.apply(np.ascontiguousarray(pixels.cpu().numpy()),
                      np.ascontiguousarray(labels.cpu().numpy()), pts_s)


def for_model(look: OverlayStyle | Effect, num_classes: int, background: int,
              palette: np.ndarray) -> OverlayStyle | Effect:
    """``look`` adapted to a model with other classes (a model swap): the selection resets to
    every class but the background; an effect that fits already comes back unchanged."""
    if isinstance(look, OverlayStyle):
        if len(look.palette) == num_classes:
            return look
        return replace(look, palette=palette, background=background, selected=None)
    if isinstance(look, OverlayEffect):
        return OverlayEffect(for_model(look.style, num_classes, background, palette))
    if isinstance(look, Chain):
        return Chain(tuple(for_model(e, num_classes, background, palette) for e in look.effects))
    matte = getattr(look, "matte", None)
    if matte is None or matte.classes == num_classes:
        return look
    fresh = Matte.for_classes(num_classes, background, None, grow=matte.grow,
                              feather=matte.feather, threshold=matte.threshold)
    return replace(look, matte=fresh)


def keep_region(look: OverlayStyle | Effect, region: np.ndarray | None
                ) -> OverlayStyle | Effect:
    """``look`` with ``region`` (HxW uint8, 255 = kept) kept in front as its classes are:
    every matte in it (a chain's too) takes the region. An overlay has no front to keep and
    comes back unchanged, as does any look when ``region`` is None."""
    if region is None:
        return look
    if isinstance(look, Chain):
        return Chain(tuple(keep_region(e, region) for e in look.effects))
    matte = getattr(look, "matte", None)
    if not isinstance(matte, Matte):
        return look
    return replace(look, matte=replace(matte, region=region))


def is_transparent(look: OverlayStyle | Effect) -> bool:
    """Whether ``look`` produces BGRA pictures (outputs must keep an alpha channel)."""
    if isinstance(look, Chain):
        return bool(look.effects) and is_transparent(look.effects[-1])
    return isinstance(look, AlphaEffect)
