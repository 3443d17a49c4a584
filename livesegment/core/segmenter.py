"""One model on one device turning frames into overlays: the engine every front end shares.

The frame is moved to the device once; resizing, normalising, inference, upsampling, argmax,
colouring and blending all run there, and only the composed uint8 picture and the uint8 label
map come back. On the CPU the very same functions run on CPU tensors.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from livesegment.core.budget import check_model_size
from livesegment.core.models.device import inference_dtype, resolve_device
from livesegment.core.models.espnetv2 import fold_batch_norms
from livesegment.core.frames import Composed, Frame, Inference
from livesegment.core.models.frozen import FrozenPerShape
from livesegment.core.compose.effects import Effect, render
from livesegment.core.compose.overlay import OverlayStyle
from livesegment.core.masks.postprocess import labels_from_logits
from livesegment.core.masks.preprocess import inference_size, to_model_input
from livesegment.core.masks.refine import refine_labels
from livesegment.core.masks.smoothing import class_probabilities
from livesegment.core.models.onnx_backend import BACKENDS, OnnxRuntimeModel
from livesegment.core.models.zoo import ModelSpec, get_spec, load_model
from livesegment.errors import DeviceError, InputError


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
            return cls(spec, OnnxRuntimeModel(net, spec.name), dev, size)
        net = net.to(dev, dtype=inference_dtype(dev), memory_format=torch.channels_last)
        if dev.type == "cpu":
            net = FrozenPerShape(net)  # 1.2x on the CPU; CUDA runs eager (unmeasured there)
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
        if isinstance(self.model, FrozenPerShape):
            self.model.prepare((1, 3, *self.input_size(height, width)), self.dtype, wait=wait)

    def is_warm(self, height: int, width: int) -> bool:
        """True when frames of this size have nothing left to build (or nothing ever to build:
        CUDA, ONNX Runtime and other models run as they are)."""
        if isinstance(self.model, FrozenPerShape):
            return self.model.planned((1, 3, *self.input_size(height, width)))
        return True

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
                refine: bool = False) -> Composed:
        """Upsample + argmax at the frame's resolution, then blend ``style`` over it (or apply
        an effect: :mod:`livesegment.core.compose.effects`; ``image`` is BGRA for the alpha effect).

        Separate from :meth:`infer` so the offline pipeline can compose one frame on another
        thread while the model already works on the next. ``refine`` snaps the class
        boundaries to the frame's edges (core/masks/refine.py); smoothed ``result.probabilities``
        are used where a :class:`~livesegment.core.masks.smoothing.TemporalSmoother` set them.
        """
        t0 = time.perf_counter()
        labels = mask_labels(result, refine)
        image_np = render(style, result.pixels, labels, result.frame.pts_s)
        labels_np = labels.cpu().numpy()
        timings = {**result.timings, "postprocess": time.perf_counter() - t0}
        return Composed(result.frame, image_np, labels_np, timings)

    def process(self, frame: Frame, style: OverlayStyle | Effect) -> Composed:
        """Segments ``frame`` and blends ``style`` over it at the frame's own resolution."""
        return self.compose(self.infer(frame), style)


def mask_labels(result: Inference, refine: bool = False) -> torch.Tensor:
    """HxW uint8 class ids for ``result`` at its frame's resolution: exact bilinear argmax of
    the logits (or smoothed probabilities), or refined against the frame's edges."""
    height, width = result.frame.bgr.shape[:2]
    if refine:
        probs = result.probabilities
        return refine_labels(class_probabilities(result.logits) if probs is None else probs,
                             result.pixels)
    scores = result.logits if result.probabilities is None else result.probabilities
    return labels_from_logits(scores, (height, width))


def sync_clock(device: torch.device) -> float:
    """Stage boundaries need the GPU finished to time them honestly."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()
