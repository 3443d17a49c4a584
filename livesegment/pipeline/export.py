"""A model as a standalone ONNX file, checked against torch before it is kept.

The graph takes a normalised 1x3xHxW float picture (the model's mean/std, RGB) and gives
logits at the input's own size: the bilinear upsampling is inside the graph, so a user's
runtime only needs an argmax. Its metadata carries what the model card says (class names,
colours, mean/std), so the file explains itself. Written under a temporary name and kept only
when ONNX Runtime's logits match torch's on a test picture.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from livesegment.core.models.onnx_backend import export_graph
from livesegment.core.models.zoo import ModelSpec, get_spec, load_model
from livesegment.errors import DeviceError, InputError, OutputError
from livesegment.io.paths import atomic_target

TOLERANCE = 1e-3      # largest |logit difference| allowed, relative to the largest logit
MIN_AGREEMENT = 0.999  # share of pixels whose class must agree


@dataclass(frozen=True)
class ExportReport:
    output: Path
    input_shape: tuple[int, int, int, int]
    output_shape: tuple[int, ...]
    max_abs_diff: float
    relative_diff: float    # max |diff| / max |logit|
    agreement: float        # share of pixels with the same argmax class
    seconds: float


class FullSizeLogits(nn.Module):
    """The network with its logits upsampled to the input's size (as the app does)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.net(x), x.shape[2:], mode="bilinear", align_corners=False)


def input_shape(spec: ModelSpec, height: int | None, width: int | None) -> tuple[int, int]:
    """(H, W) of the exported graph: asked for, else the model's own size, square."""
    if spec.fixed_input is not None:
        return spec.fixed_input
    h, w = height or spec.default_size, width or height or spec.default_size
    if h % spec.size_multiple or w % spec.size_multiple:
        raise InputError(f"export size {w}x{h} is not a multiple of {spec.size_multiple} "
                         f"(model {Path(spec.name).name})")
    return h, w


def export_onnx(model: str, output: Path, height: int | None = None,
                width: int | None = None) -> ExportReport:
    """Exports ``model`` (a name or a model file) to ``output`` and checks it."""
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise DeviceError("export needs ONNX: pip install 'livesegment[onnx]'") from None
    start = time.perf_counter()
    spec = get_spec(model)
    net = FullSizeLogits(load_model(spec).float()).eval()
    h, w = input_shape(spec, height, width)
    shape = (1, 3, h, w)
    picture = _test_input(spec, shape)
    with torch.inference_mode():
        expected = net(picture).numpy()
    try:
        with atomic_target(output) as tmp:
            export_graph(net, tmp, shape)
            graph = onnx.load(str(tmp))
            onnx.helper.set_model_props(graph, _metadata(spec, shape))
            onnx.save(graph, str(tmp))
            session = onnxruntime.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
            (got,) = session.run(None, {"x": picture.numpy()})
            report = _compare(output, shape, expected, got, time.perf_counter() - start)
            if report.relative_diff > TOLERANCE or report.agreement < MIN_AGREEMENT:
                raise OutputError(
                    f"the ONNX graph does not match torch (max |diff| {report.max_abs_diff:.3g},"
                    f" {report.agreement:.2%} of pixels agree); {output} not written")
    except OSError as exc:
        raise OutputError(f"cannot write {output} ({exc.strerror or exc})") from None
    return report


def _test_input(spec: ModelSpec, shape: tuple[int, ...]) -> torch.Tensor:
    """A seeded picture with smooth regions and edges, normalised as the model expects."""
    rng = np.random.default_rng(0)
    _, _, h, w = shape
    coarse = rng.uniform(0, 1, (3, max(2, h // 16), max(2, w // 16))).astype(np.float32)
    x = F.interpolate(torch.from_numpy(coarse)[None], (h, w), mode="nearest")
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    return ((x - mean) / std).float()


def _compare(output: Path, shape: tuple[int, ...], expected: np.ndarray, got: np.ndarray,
             seconds: float) -> ExportReport:
    if got.shape != expected.shape:
        raise OutputError(f"the ONNX graph gives {got.shape}, torch {expected.shape}")
    diff = float(np.abs(got - expected).max())
    scale = float(np.abs(expected).max()) or 1.0
    agreement = float((got.argmax(1) == expected.argmax(1)).mean())
    return ExportReport(output, tuple(shape), tuple(got.shape), diff, diff / scale, agreement,
                        seconds)


def _metadata(spec: ModelSpec, shape: tuple[int, ...]) -> dict[str, str]:
    """What a runtime needs to use the graph, as ONNX metadata (strings)."""
    return {
        "livesegment_model": Path(spec.name).name,
        "title": spec.title,
        "classes": json.dumps(list(spec.categories)),
        "colours_rgb": json.dumps(spec.palette.tolist()),
        "background": str(spec.background),
        "input": f"1x3x{shape[2]}x{shape[3]} float, RGB / 255, minus mean, over std",
        "mean": json.dumps(list(spec.mean)),
        "std": json.dumps(list(spec.std)),
        "output": "logits 1xCxHxW at the input's size: argmax over C gives class ids",
        "licence": spec.licence,
    }
