"""Temporal smoothing of class probabilities: steady masks on still pictures, no lag in motion.

A model run frame by frame flips near-tie pixels back and forth (a flicker the eye catches at
once) although the picture there has not changed. MediaPipe's answer blends each new
probability with the previous one, leaning on history where the new one is uncertain. That
still smears real motion across frames wherever the model is unsure (boundaries, which is
exactly where things move). Here the weight on history is the product of three things:

* ``strength`` (the user's 0..1 setting);
* how uncertain the new frame is at that pixel: one minus the margin between its two most
  likely classes (confident pixels follow the new frame at once);
* how still the picture itself is there: a small grey copy of the frame at the inference
  resolution is compared with the previous one; where it changed, history is dropped.

So a near-tie on a still wall stops flipping, while a moving shoulder follows its frame.

Everything runs at the inference resolution (before upsampling), on the device the logits are
on. The state is per stream and starts afresh on a scene cut (most of the picture changed at
once) and whenever the probabilities' shape changes (another model or size).

Offline, the future is known: :class:`TemporalSmoother` with ``lookahead=K`` holds back K
results and blends a backward pass over them with the forward (past) pass, a symmetric window
that flickers less than the live filter (BENCHMARKS.md). It emits every result it is given,
in order, once: frame count and timestamps are untouched. Both passes blend only the classes
that reach ``ACTIVE_SHARE`` somewhere (2-4 of 21 on real footage), the rest pass as they are.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

import torch

from livesegment.core.models.catalog import DEFAULT_SMOOTHING  # noqa: F401 - kept torch-free there
from livesegment.core.frames import Inference
from livesegment.core.masks.refine import shrink_frame

DEFAULT_LOOKAHEAD = 8  # offline frames held back; 8 flickered 0.8x as much as 4
DOUBT_POWER = 0.5  # uncertainty ** power weighs history: < 1 leans on it beyond near-ties
STILL_LEVELS = 24.0  # grey-level change (0..255) at which a pixel counts as moving
CUT_LEVELS = 32.0  # a pixel changed this much...
CUT_SHARE = 0.6  # ...over this share of the picture: a scene cut
ACTIVE_SHARE = 0.05  # classes below this probability everywhere in a frame are not blended
GREY = (0.114, 0.587, 0.299)  # BGR weights (Rec. 601 luma)


@dataclass(frozen=True)
class MaskOptions:
    """How masks are made and cleaned up: temporal ``smoothing`` strength (0 = off), whether
    the upsampled probabilities are refined against the frame's own edges, and whether a
    still is segmented in tiles at full detail (``tile``: core/masks/tiles.py; refinement
    then does not apply)."""

    smoothing: float = DEFAULT_SMOOTHING
    refine: bool = True
    tile: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.smoothing <= 1.0:
            raise ValueError(f"smoothing {self.smoothing} is outside 0..1")


MASKS_OFF = MaskOptions(0.0, False)


def class_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """1xCxhxw logits (any float dtype) -> float32 probabilities over the classes."""
    return torch.softmax(logits.float(), dim=1)


def small_grey(small: torch.Tensor) -> torch.Tensor:
    """The frame shrunk to the probabilities' grid (1x3xhxw BGR, 0..255, area-averaged, so
    sensor noise and compression grain mostly cancel before frames are compared) as an hxw
    float grey picture."""
    weights = torch.tensor(GREY, device=small.device).view(3, 1, 1)
    return (small[0] * weights).sum(0)


def stillness(grey: torch.Tensor, previous: torch.Tensor) -> torch.Tensor | None:
    """Per pixel 1 (unchanged) .. 0 (moved), or None on a scene cut."""
    change = (grey - previous).abs()
    if (change > CUT_LEVELS).float().mean().item() > CUT_SHARE:
        return None
    # A 3x3 maximum spreads motion to the pixels beside it: an edge that moves one pixel
    # makes its neighbours uncertain too.
    change = max3x3(change)
    return (1.0 - change / STILL_LEVELS).clamp_(min=0.0)


def active_classes(probs: torch.Tensor) -> torch.Tensor:
    """Ids of the classes reaching ``ACTIVE_SHARE`` somewhere (1xCxhxw -> K, sorted): the
    planes worth blending. A class below it everywhere cannot win after blending unless it
    came near winning in another frame of the window, where it is active itself."""
    return (probs[0].amax((1, 2)) >= ACTIVE_SHARE).nonzero()[:, 0]


def max3x3(x: torch.Tensor) -> torch.Tensor:
    """Maximum over each pixel's 3x3 neighbourhood (edges repeated), by shifted maxima:
    a fifth of ``max_pool2d``'s time on these small planes."""
    rows = torch.maximum(torch.cat([x[:1], x[:-1]]), torch.cat([x[1:], x[-1:]]))
    rows = torch.maximum(rows, x)
    cols = torch.maximum(torch.cat([rows[:, :1], rows[:, :-1]], 1),
                         torch.cat([rows[:, 1:], rows[:, -1:]], 1))
    return torch.maximum(cols, rows)


def uncertainty(probs: torch.Tensor) -> torch.Tensor:
    """1 where the two most likely classes tie, 0 where one class has it all (1xhxw).
    ``probs`` may be the active planes alone: a plane below ``ACTIVE_SHARE`` moves it little."""
    # Two max reductions: torch's topk/argmax across the class planes are ~100x slower
    # on the CPU than amax (they walk the planes pixel by pixel).
    first = probs.amax(1, keepdim=True)
    second = torch.where(probs == first, 0.0, probs).amax(1)
    doubt = 1.0 - (first[:, 0] - second)
    return doubt if DOUBT_POWER == 1.0 else doubt.pow_(DOUBT_POWER)


@dataclass(eq=False)
class _Entry:
    result: Inference
    probs: torch.Tensor
    grey: torch.Tensor
    active: torch.Tensor  # class ids blended at this frame: its own active ones and history's
    doubt: torch.Tensor  # uncertainty(probs), 1xhxw
    still: torch.Tensor | None  # against the previous entry; None: nothing to lean on
    forward: torch.Tensor  # the past-only smoothed probabilities of the ``active`` classes

    def forward_of(self, active: torch.Tensor) -> torch.Tensor:
        """The past-only smoothed probabilities of ``active`` (sorted ids, a superset of this
        frame's own): the blended planes, and the frame's own probabilities for the rest."""
        if torch.equal(active, self.active):
            return self.forward
        planes = self.probs.index_select(1, active)
        planes[:, torch.searchsorted(active, self.active)] = self.forward
        return planes


class TemporalSmoother:
    """Per-stream smoothing state. ``push`` takes results in frame order and returns those
    ready to compose (live, ``lookahead=0``: the same one at once); ``flush`` returns the
    held-back rest at the end of a stream. With ``strength`` 0 results pass through as they
    are, so composing takes the exact logits path."""

    def __init__(self, strength: float = DEFAULT_SMOOTHING, lookahead: int = 0) -> None:
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"smoothing {strength} is outside 0..1")
        self.strength = strength
        self.lookahead = max(0, lookahead)
        self._held: deque[_Entry] = deque()
        self._last: _Entry | None = None
        self.resets = 0  # scene cuts and shape changes seen (for tests and stats)

    def reset(self) -> None:
        """Forget history (a model swap): the next frame stands on its own."""
        self._last = None

    def push(self, result: Inference) -> list[Inference]:
        if self.strength == 0.0:
            return [result]
        entry = self._enter(result)
        self._held.append(entry)
        self._last = entry
        ready = []
        while len(self._held) > self.lookahead:
            ready.append(self._emit())
        return ready

    def flush(self) -> list[Inference]:
        """Everything still held back, each with what future it has."""
        ready = []
        while self._held:
            ready.append(self._emit())
        return ready

    def _enter(self, result: Inference) -> _Entry:
        probs = class_probabilities(result.logits)
        guide = result.guide if result.guide is not None else \
            shrink_frame(result.pixels, probs.shape[-2:])
        result = replace(result, guide=guide)  # refinement fits against the same picture
        grey = small_grey(guide)
        last = self._last
        still = None
        if last is not None and last.probs.shape == probs.shape:
            still = stillness(grey, last.grey)
        if last is not None and still is None:
            self.resets += 1
        active = active_classes(probs)
        if still is not None:
            active = torch.cat([active, last.active]).unique()
        new = probs.index_select(1, active)
        doubt = uncertainty(new)
        forward = new if still is None else self._blend(new, doubt, last.forward_of(active),
                                                        still)
        return _Entry(result, probs, grey, active, doubt, still, forward)

    def _blend(self, new: torch.Tensor, doubt: torch.Tensor, history: torch.Tensor,
               still: torch.Tensor) -> torch.Tensor:
        """new + w * (history - new), with w = strength x uncertainty(new) x stillness."""
        weight = (doubt * still).mul_(self.strength).unsqueeze(1)
        return torch.lerp(new, history, weight)

    def _emit(self) -> Inference:
        """The oldest held result with its smoothed probabilities, written over its own
        (no longer needed) probabilities' blended planes: no picture-sized copy a frame."""
        entry = self._held.popleft()
        active, smoothed = entry.active, entry.forward
        if self._held:
            active = torch.cat([e.active for e in (entry, *self._held)]).unique()
            smoothed = entry.forward_of(active) + self._backward(entry, active)
            smoothed.mul_(0.5)
        entry.probs.index_copy_(1, active, smoothed)
        return replace(entry.result, probabilities=entry.probs)

    def _backward(self, entry: _Entry, active: torch.Tensor) -> torch.Tensor:
        """The same filter run backwards over the ``active`` planes, from the newest held
        frame's forward state back to ``entry``: averaged with the forward pass it makes a
        window over past and future. At a cut going back it restarts from the forward state
        before the cut."""
        chain = [entry, *self._held]
        back = chain[-1].forward_of(active)
        for k in range(len(chain) - 2, -1, -1):
            still = chain[k + 1].still  # between frame k and k + 1
            here = chain[k]
            back = here.forward_of(active) if still is None else self._blend(
                here.probs.index_select(1, active), here.doubt, back, still)
        return back
