"""One model on one device turning frames into overlays: the engine every front end shares.

The frame is moved to the device once; resizing, normalising, inference, upsampling, argmax,
colouring and blending all run there, and only the composed uint8 picture and the uint8 label
map come back. On the CPU the very same functions run on CPU tensors.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from livesegment.core.budget import check_model_size, check_tile_band
from livesegment.core.models.device import inference_dtype, resolve_device
from livesegment.core.models.espnetv2 import fold_batch_norms
from livesegment.core.frames import Composed, Frame, Inference
from livesegment.core.models.frozen import FrozenPerShape
from livesegment.core.compose.effects import Effect, OverlayEffect, render
from livesegment.core.compose.overlay import OverlayStyle
from livesegment.core.masks.postprocess import labels_from_logits
from livesegment.core.masks.preprocess import inference_size, to_model_input
from livesegment.core.masks.refine import refine_labels
from livesegment.core.masks.smoothing import class_probabilities
from livesegment.core.masks.tiles import TileGrid, blended_bands
from livesegment.core.models.onnx_backend import BACKENDS, OnnxRuntimeModel
from livesegment.core.models.fused import FusedPerson
from livesegment.core.models.zoo import FUSED_SELFIE_MODEL, ModelSpec, get_spec, load_model
from livesegment.errors import DeviceError, InputError


BAND_PIXELS = 1 << 22  # colouring works on row bands of about this many pixels (4 MP)

# rows(top, bottom) -> rows [top, bottom) of a picture, (bottom - top) x W x 3 uint8, as an
# array or a tensor; asked for with tops that never go back (a picture decoded as it goes).
RowReader = Callable[[int, int], "np.ndarray | torch.Tensor"]


@dataclass(frozen=True)
class TiledBand:
    """Rows [top, done) of a tiled picture, finished: their pixels and class ids (uint8),
    both on the segmenter's device."""

    top: int
    done: int
    pixels: torch.Tensor
    labels: torch.Tensor


@dataclass
class Segmenter:
    """A loaded model ready for frames. Not thread-safe: one inference thread owns it."""

    spec: ModelSpec
    model: nn.Module
    device: torch.device
    size: int
    _pinned: torch.Tensor | None = field(default=None, init=False, repr=False)

    @classmethod
    def create(cls, model: str | ModelSpec, device: str = "auto", size: int | None = None,
               weights: Path | None = None, backend: str = "torch") -> Segmenter:
        """Loads weights, moves the model to its device and precision, checks the size.

        ``backend="onnxruntime"`` runs the network through ONNX Runtime on the CPU instead.
        """
        spec = get_spec(model) if isinstance(model, str) else model
        if backend not in BACKENDS:
            raise DeviceError(f"unknown backend '{backend}' (choose from {', '.join(BACKENDS)})")
        dev = resolve_device(device)
        if backend == "onnxruntime" and dev.type != "cpu":
            raise DeviceError("the onnxruntime backend runs on the CPU; use --device cpu")
        if spec.fixed_input is not None and size not in (None, spec.default_size):
            h, w = spec.fixed_input
            raise InputError(f"model {spec.name} takes a fixed {w}x{h} input; --size does "
                             "not apply to it")
        size = size or spec.default_size
        check_model_size(size)
        inference_size(size, size, size, spec.size_multiple)  # raises if too small
        net = load_model(spec, weights)
        if dev.type == "cuda":
            torch.backends.cudnn.benchmark = True
        # Measured on ESPNetv2 (BENCHMARKS.md): channels_last 1.32x on the CPU, folding batch
        # norms into convolutions another ~2%; a no-op for models without ConvBN blocks.
        net = fold_batch_norms(net)
        if backend == "onnxruntime":
            return cls(spec, _each_network(net, lambda part, name: OnnxRuntimeModel(
                part, name or spec.name)), dev, size)
        net = net.to(dev, dtype=inference_dtype(dev), memory_format=torch.channels_last)
        if dev.type == "cpu":  # 1.2x on the CPU; CUDA runs eager (unmeasured there)
            net = _each_network(net, lambda part, _name: FrozenPerShape(part))
        return cls(spec, net, dev, size)

    def with_size(self, size: int) -> Segmenter:
        """The same loaded model at another inference size. It gets its own upload buffer, so
        another thread (an export beside the live view) may use it at the same time."""
        check_model_size(size)
        return Segmenter(self.spec, self.model, self.device, size)

    def replicas(self, count: int) -> list[Segmenter]:
        """This segmenter and ``count - 1`` siblings sharing its network, one per inference
        thread (the network only reads its weights; each sibling has its own upload buffer)."""
        return [self] + [self.with_size(self.size) for _ in range(count - 1)]

    def warm_up(self, height: int, width: int, wait: bool = True) -> None:
        """Readies the model for frames of this size before they are hot: builds the frozen
        CPU graph for the input shape, now (``wait``) or in the background."""
        for graphs, shape in self._graphs(height, width):
            graphs.prepare(shape, self.dtype, wait=wait)

    def is_warm(self, height: int, width: int) -> bool:
        """True when frames of this size have nothing left to build (or nothing ever to build:
        CUDA, ONNX Runtime and other models run as they are)."""
        return all(graphs.planned(shape) for graphs, shape in self._graphs(height, width))

    def _graphs(self, height: int, width: int) -> list[tuple[FrozenPerShape, tuple[int, ...]]]:
        """Each frozen network with the input shape it gets for frames of this size."""
        shape = (1, 3, *self.input_size(height, width))
        # A fused model's selfie network runs only in close-ups: its graph is built when it
        # gets hot, not before the first frame (seconds of start-up a wide scene never needs).
        net = self.main_network
        return [(net, shape)] if isinstance(net, FrozenPerShape) else []

    @property
    def main_network(self) -> nn.Module:
        """The network every frame goes through: the model, or a fused model's ESPNetv2
        (its selfie half runs only when a frame is a close-up)."""
        return self.model.main if isinstance(self.model, FusedPerson) else self.model

    @property
    def backend(self) -> str:
        return "onnxruntime" if isinstance(self.model, OnnxRuntimeModel) else "torch"

    @property
    def dtype(self) -> torch.dtype:
        return inference_dtype(self.device)

    def default_style(self, opacity: float = 0.5) -> OverlayStyle:
        return OverlayStyle(self.spec.palette, self.spec.background, opacity)

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        if self.spec.fixed_input is not None:  # a one-shape network: squashed to it, as upstream
            return self.spec.fixed_input
        return inference_size(height, width, self.size, self.spec.size_multiple)

    @torch.inference_mode()
    def logits(self, image: torch.Tensor) -> torch.Tensor:
        """Raw model output for a prepared input tensor (for benchmarks and parity checks)."""
        return self.model(image)

    @torch.inference_mode()
    def infer(self, frame: Frame) -> Inference:
        """Preprocess and run the model; the logits stay on the device for :meth:`compose`."""
        t0 = time.perf_counter()
        height, width = frame.bgr.shape[:2]
        pixels = self.upload(frame.bgr)
        x = to_model_input(pixels, self.input_size(height, width), self.spec.mean,
                           self.spec.std, self.dtype)
        x = x.contiguous(memory_format=torch.channels_last)
        t1 = sync_clock(self.device)
        logits = self.model(x)
        t2 = sync_clock(self.device)
        return Inference(frame, logits, pixels, {"preprocess": t1 - t0, "infer": t2 - t1})

    def upload(self, bgr: np.ndarray) -> torch.Tensor:
        """The frame as a tensor on the device. On CUDA it goes through one reused page-locked
        buffer (allocating pinned memory per frame is slow); the copy is asynchronous, and the
        device is synchronised before the next frame can overwrite the buffer."""
        src = torch.from_numpy(np.ascontiguousarray(bgr))
        if self.device.type != "cuda":
            return src
        if self._pinned is None or self._pinned.shape != src.shape:
            self._pinned = torch.empty(src.shape, dtype=torch.uint8).pin_memory()
        self._pinned.copy_(src)
        return self._pinned.to(self.device, non_blocking=True)

    @torch.inference_mode()
    def compose(self, result: Inference, style: OverlayStyle | Effect,
                refine: bool = False, in_place: bool = False) -> Composed:
        """Upsample + argmax at the frame's resolution, then blend ``style`` over it (or apply
        an effect: :mod:`livesegment.core.compose.effects`; ``image`` is BGRA for the alpha effect).

        Separate from :meth:`infer` so the offline pipeline can compose one frame on another
        thread while the model already works on the next. ``refine`` snaps the class
        boundaries to the frame's edges (core/masks/refine.py); smoothed ``result.probabilities``
        are used where a :class:`~livesegment.core.masks.smoothing.TemporalSmoother` set them.
        ``in_place``: an overlay may be painted over the frame's own pixels (a caller that no
        longer needs the frame: a huge still then needs no second picture's memory).
        """
        t0 = time.perf_counter()
        labels = mask_labels(result, refine)
        return self._paint(result.frame, result.pixels, labels, style, in_place,
                           {**result.timings, "postprocess": time.perf_counter() - t0})

    @torch.inference_mode()
    def compose_tiled(self, frame: Frame, style: OverlayStyle | Effect,
                      in_place: bool = False, what: str = "the picture",
                      on_band: Callable[[int, int], None] | None = None) -> Composed:
        """:meth:`compose` for a big picture segmented tile by tile at full detail
        (:meth:`tile_labels`), in the memory of a band of tiles plus the picture."""
        t0 = time.perf_counter()
        pixels = self.upload(frame.bgr)
        labels = self.tile_labels(pixels, what, on_band)
        return self._paint(frame, pixels, labels, style, in_place,
                           {"infer": time.perf_counter() - t0})

    def _paint(self, frame: Frame, pixels: torch.Tensor, labels: torch.Tensor,
               style: OverlayStyle | Effect, in_place: bool,
               timings: dict[str, float]) -> Composed:
        out = pixels.numpy() if in_place and pixels.device.type == "cpu" else None
        image_np = render_in_bands(style, pixels, labels, frame.pts_s, out)
        return Composed(frame, image_np, labels.cpu().numpy(), timings)

    def tile_grid(self, height: int, width: int) -> TileGrid:
        """The tiles for a picture: squares of the inference size (``--size``) rounded up
        to the model's multiple, seen at scale 1, a quarter of a side shared with each
        neighbour."""
        m = self.spec.size_multiple
        return TileGrid.of(height, width, max(m, math.ceil(self.size / m) * m))

    @torch.inference_mode()
    def tile_labels(self, pixels: torch.Tensor, what: str = "the picture",
                    on_band: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """HxW uint8 class ids of the HxWx3 uint8 picture ``pixels`` (on the device), the
        model run on overlapping tiles at full detail and their probabilities blended
        (core/masks/tiles.py). ``what`` names the picture in errors; ``on_band(top, done)``
        hears of each band of labels as it is written. :meth:`tile_bands` says more."""
        height, width = pixels.shape[:2]
        labels = torch.empty((height, width), dtype=torch.uint8, device=pixels.device)
        for band in self.tile_bands(lambda top, bottom: pixels[top:bottom], height, width,
                                    what):
            labels[band.top:band.done] = band.labels
            if on_band is not None:
                on_band(band.top, band.done)
        return labels

    @torch.inference_mode()
    def tile_bands(self, rows: RowReader, height: int, width: int,
                   what: str = "the picture") -> Iterator[TiledBand]:
        """The tiled labels of a ``height`` x ``width`` picture a band of rows at a time, top
        to bottom, each with its pixels: ``rows(top, bottom)`` gives the picture's rows as
        they are needed (a tile row's, tops never going back), so a picture read and written
        band by band is never held whole. A fused model tiles with its main network alone:
        whether a scene is a close-up is a question about the whole picture, which a tile
        cannot answer (a tile of a crowd photo may be filled by one torso). Edge refinement
        does not apply: the model already sees every pixel."""
        net = self.main_network
        grid = self.tile_grid(height, width)
        check_tile_band(self.spec.num_classes, grid.tile_h, width, what)
        held: dict[str, object] = {"top": None}  # the tile row in hand: its top, its pixels

        def predict(top: int, left: int, h: int, w: int) -> torch.Tensor:
            if held["top"] != top:
                band = rows(top, top + h)
                held.update(top=top, pixels=band.to(self.device)
                            if isinstance(band, torch.Tensor) else self.upload(band))
            tile = held["pixels"][:, left:left + w]
            x = to_model_input(tile, self._tile_input(h, w), self.spec.mean, self.spec.std,
                               self.dtype).contiguous(memory_format=torch.channels_last)
            # Logits upsampled, then softmax: the argmax is the untiled labels' own.
            logits = F.interpolate(net(x).float(), size=(h, w), mode="bilinear",
                                   align_corners=False)
            return torch.softmax(logits[0], 0).cpu()

        for top, done, labels in blended_bands(grid, self.spec.num_classes, predict):
            pixels = held["pixels"][:done - top]
            yield TiledBand(top, done, pixels, torch.from_numpy(labels).to(pixels.device))

    def _tile_input(self, h: int, w: int) -> tuple[int, int]:
        """A tile's model input: itself, or (a tile cut short by a smaller picture, or a
        one-shape network) stretched to the nearest shape the network takes."""
        if self.spec.fixed_input is not None:
            return self.spec.fixed_input
        m = self.spec.size_multiple
        return max(m, math.ceil(h / m) * m), max(m, math.ceil(w / m) * m)

    def process(self, frame: Frame, style: OverlayStyle | Effect) -> Composed:
        """Segments ``frame`` and blends ``style`` over it at the frame's own resolution."""
        return self.compose(self.infer(frame), style)


def render_in_bands(look: OverlayStyle | Effect, pixels: torch.Tensor, labels: torch.Tensor,
                    pts_s: float = 0.0, out: np.ndarray | None = None) -> np.ndarray:
    """:func:`render`, band by band of at most ``BAND_PIXELS`` pixels where the look is
    per-pixel (an overlay) and the frame is on the CPU, so colouring a large picture needs a
    band's temporaries (four picture-sized ones at once), not the whole picture's. ``out``
    (HxWx3 uint8) receives the result; it may be the frame itself, as each band is read
    before it is written. Other effects (blur, replace) see the whole frame at once."""
    height, width = pixels.shape[:2]
    pixelwise = isinstance(look, (OverlayStyle, OverlayEffect)) and pixels.device.type == "cpu"
    if not pixelwise or (out is None and height * width <= BAND_PIXELS):
        return render(look, pixels, labels, pts_s)
    out = np.empty(pixels.shape, np.uint8) if out is None else out
    rows = max(1, BAND_PIXELS // width)
    for top in range(0, height, rows):
        band = slice(top, top + rows)
        out[band] = render(look, pixels[band], labels[band], pts_s)
    return out


def mask_labels(result: Inference, refine: bool = False) -> torch.Tensor:
    """HxW uint8 class ids for ``result`` at its frame's resolution: exact bilinear argmax of
    the logits (or smoothed probabilities), or refined against the frame's edges."""
    height, width = result.frame.bgr.shape[:2]
    if refine:
        probs = result.probabilities
        return refine_labels(class_probabilities(result.logits) if probs is None else probs,
                             result.pixels, guide=result.guide)
    scores = result.logits if result.probabilities is None else result.probabilities
    return labels_from_logits(scores, (height, width))


def _each_network(net: nn.Module, wrap) -> nn.Module:
    """``wrap(network, name)`` applied to a model, or to each network inside a fused one
    (its Python glue decides per frame whether the second network runs, which a graph
    traced once could not)."""
    if isinstance(net, FusedPerson):
        net.main = wrap(net.main, None)
        net.person = wrap(net.person, FUSED_SELFIE_MODEL)
        return net
    return wrap(net, None)


def sync_clock(device: torch.device) -> float:
    """Stage boundaries need the GPU finished to time them honestly."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()
