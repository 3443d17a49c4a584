"""A TensorFlow Lite segmentation graph (MediaPipe's selfie models) run as a torch network.

Why read the flatbuffer rather than convert it once: the ``.tflite`` file we ship *is* the
licensed artefact, byte for byte, so nothing of ours sits between the published weights and the
network; parsing ~250 operators with the pure-Python ``tflite`` package takes ~0.1 s.

The graph is rebuilt operator by operator in NCHW: each TFLite operator becomes one small module
holding its (float16 -> float32 dequantised) weights in torch's layout, and :class:`TFLiteGraph`
runs them in the file's order. Only the operators these models use are known; anything else is
refused with a :class:`~livesegment.errors.WeightsError` that names it, never guessed at.

Layout and arithmetic that differ from torch:

* Kernels are stored OHWI (depthwise 1HWC); torch wants OIHW (depthwise C1HW; transposed IOHW).
* TFLite's SAME padding puts the odd pixel *after* (bottom/right): a 3x3 stride-2 convolution on
  256 pixels pads 0 before and 1 after, where torch's ``padding=1`` would pad 1 on both sides and
  shift the whole grid. The pads are computed from the tensors' stored shapes (the input size is
  fixed) and applied with ``F.pad``.
* ``RESIZE_BILINEAR`` with ``half_pixel_centers`` is torch's ``align_corners=False``.
* ``Convolution2DTransposeBias`` (MediaPipe's custom op): a transposed convolution plus bias, whose
  12-byte options are three int32 ``(padding, stride_w, stride_h)``; output pixel
  ``(y*s + ky, x*s + kx)`` accumulates ``input(y, x) * kernel(ky, kx)`` (no kernel flip), which is
  ``F.conv_transpose2d``. The output is cropped to the stored output shape.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from livesegment.errors import WeightsError, first_line

TRANSPOSE_CONV_BIAS = "Convolution2DTransposeBias"
_NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}
_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "RELU": F.relu, "RELU6": F.relu6, "HARD_SWISH": F.hardswish, "LOGISTIC": torch.sigmoid,
}


class Conv(nn.Module):
    """CONV_2D or DEPTHWISE_CONV_2D with TFLite's own (possibly uneven) padding."""

    def __init__(self, conv: nn.Conv2d, pad: tuple[int, int, int, int],
                 activation: str | None = None) -> None:
        super().__init__()
        self.conv = conv
        self.pad = pad          # left, right, top, bottom (F.pad's order)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pad):
            x = F.pad(x, self.pad)
        x = self.conv(x)
        return _ACTIVATIONS[self.activation](x) if self.activation else x


class TransposedConv(nn.Module):
    """MediaPipe's Convolution2DTransposeBias, cropped to the output shape the file states."""

    def __init__(self, conv: nn.ConvTranspose2d, crop: tuple[int, int],
                 out_hw: tuple[int, int]) -> None:
        super().__init__()
        self.conv = conv
        self.crop = crop        # top, left
        self.out_hw = out_hw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (top, left), (h, w) = self.crop, self.out_hw
        return self.conv(x)[..., top:top + h, left:left + w]


class Elementwise(nn.Module):
    """ADD / MUL (broadcasting, as a squeeze-excite scale does) with a fused activation."""

    def __init__(self, kind: str, activation: str | None) -> None:
        super().__init__()
        self.kind = kind
        self.activation = activation

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        x = a + b if self.kind == "ADD" else a * b
        return _ACTIVATIONS[self.activation](x) if self.activation else x


class Activation(nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ACTIVATIONS[self.kind](x)


class AveragePool(nn.Module):
    """AVERAGE_POOL_2D (VALID) or MEAN over the spatial axes: the squeeze of squeeze-excite."""

    def __init__(self, kernel: tuple[int, int], stride: tuple[int, int]) -> None:
        super().__init__()
        self.kernel = kernel
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) == self.kernel:
            return x.mean((2, 3), keepdim=True)
        return F.avg_pool2d(x, self.kernel, self.stride)


class ResizeBilinear(nn.Module):
    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)


class TFLiteGraph(nn.Module):
    """The file's operators in order; NCHW float in, the graph's output tensor (NCHW) out.

    ``wiring[i]`` names operator ``i``'s input and output tensors by their index in the file;
    a tensor is dropped after its last reader, so eager runs hold few activations at once.
    """

    def __init__(self, ops: list[nn.Module], wiring: list[tuple[tuple[int, ...], int]],
                 input_id: int, output_id: int, input_hw: tuple[int, int]) -> None:
        super().__init__()
        self.ops = nn.ModuleList(ops)
        self.wiring = wiring
        self.input_id = input_id
        self.output_id = output_id
        self.input_hw = input_hw
        last_use: dict[int, int] = {}
        for step, (inputs, _out) in enumerate(wiring):
            for t in inputs:
                last_use[t] = step
        self._drop_after = [tuple(t for t in inputs if last_use[t] == step and t != output_id)
                            for step, (inputs, _out) in enumerate(wiring)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = {self.input_id: x}
        for op, (inputs, output), drop in zip(self.ops, self.wiring, self._drop_after):
            values[output] = op(*(values[t] for t in inputs))
            for t in drop:
                del values[t]
        return values[self.output_id]


class PersonLogits(nn.Module):
    """One person-score channel -> 2-class logits ``[0, z]`` (background, person).

    softmax([0, z]) = [1 - sigmoid(z), sigmoid(z)], so argmax, class selection and every
    probability downstream treat it like any other 2-class model. The graph's final sigmoid is
    left out (``z`` is its input), which keeps confident pixels exact instead of taking
    ``logit(p)`` of a saturated float.
    """

    def __init__(self, graph: TFLiteGraph) -> None:
        super().__init__()
        self.net = graph

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.net(x)
        return torch.cat([torch.zeros_like(z), z], dim=1)


def load_tflite_person_model(path: Path, input_hw: tuple[int, int] | None = None
                             ) -> PersonLogits:
    """Reads a one-channel person segmentation ``.tflite`` file as 2-class logits.

    ``input_hw`` is the (H, W) the registry expects; a file made for another size is refused.
    """
    graph = read_tflite_graph(path, drop_final_sigmoid=True)
    if input_hw is not None and graph.input_hw != tuple(input_hw):
        raise WeightsError(f"{path} takes {graph.input_hw[0]}x{graph.input_hw[1]} input, "
                           f"this model needs {input_hw[0]}x{input_hw[1]}")
    return PersonLogits(graph).eval()


def read_tflite_graph(path: Path, drop_final_sigmoid: bool = False) -> TFLiteGraph:
    """Parses ``path`` into a :class:`TFLiteGraph`; refuses what it does not fully understand."""
    try:
        import tflite
    except ImportError:
        raise WeightsError("reading .tflite weights needs the 'tflite' package "
                           "(pip install tflite)") from None
    if not Path(path).is_file():
        raise WeightsError(f"weights file not found: {path}")
    data = Path(path).read_bytes()
    try:
        if data[4:8] != b"TFL3":
            raise ValueError("no TFL3 identifier")
        return _Reader(tflite, data, path).graph(drop_final_sigmoid)
    except WeightsError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged flatbuffer fails in many ways
        raise WeightsError(f"{path} is not a usable TFLite model ({first_line(exc)})") from None


class _Reader:
    """One pass over a flatbuffer: constants first, then each operator as a module."""

    def __init__(self, tflite, data: bytes, path: Path) -> None:
        self.tfl = tflite
        self.path = path
        self.model = tflite.Model.GetRootAsModel(data, 0)
        if self.model.SubgraphsLength() != 1:
            raise WeightsError(f"{path}: expected one subgraph, found "
                               f"{self.model.SubgraphsLength()}")
        self.sub = self.model.Subgraphs(0)
        self.builtin = {v: k for k, v in vars(tflite.BuiltinOperator).items()
                        if not k.startswith("_")}
        self.activation = {v: k for k, v in vars(tflite.ActivationFunctionType).items()
                           if not k.startswith("_")}
        self.consts: dict[int, np.ndarray] = {}

    # -- tensors ---------------------------------------------------------------------------
    def shape(self, t: int) -> tuple[int, ...]:
        return tuple(int(s) for s in self.sub.Tensors(t).ShapeAsNumpy())

    def hw(self, t: int) -> tuple[int, int]:
        shape = self.shape(t)
        return shape[1], shape[2]

    def stored(self, t: int) -> np.ndarray | None:
        """A tensor's constant data from the file (float16/float32/int32), if it has any."""
        tensor = self.sub.Tensors(t)
        raw = self.model.Buffers(tensor.Buffer()).DataAsNumpy()
        if isinstance(raw, int) or raw.size == 0:
            return None
        types = {self.tfl.TensorType.FLOAT16: np.float16, self.tfl.TensorType.FLOAT32: np.float32,
                 self.tfl.TensorType.INT32: np.int32}
        if tensor.Type() not in types:
            raise WeightsError(f"{self.path}: unsupported constant type {tensor.Type()}")
        return raw.view(types[tensor.Type()]).reshape(self.shape(t))

    def const(self, t: int) -> torch.Tensor:
        if t not in self.consts:
            raise WeightsError(f"{self.path}: operator weight tensor {t} is not a constant")
        return torch.from_numpy(self.consts[t].astype(np.float32))

    # -- operators -------------------------------------------------------------------------
    def op_name(self, op) -> str:
        code = self.model.OperatorCodes(op.OpcodeIndex())
        builtin = self.builtin.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")
        return code.CustomCode().decode() if builtin == "CUSTOM" else builtin

    def options(self, op, cls):
        table = op.BuiltinOptions()
        opts = cls()
        opts.Init(table.Bytes, table.Pos)
        return opts

    def fused(self, opts) -> str | None:
        name = self.activation[opts.FusedActivationFunction()]
        if name == "NONE":
            return None
        if name not in _ACTIVATIONS:
            raise WeightsError(f"{self.path}: unsupported fused activation {name}")
        return name

    def graph(self, drop_final_sigmoid: bool) -> TFLiteGraph:
        sub = self.sub
        (input_id,), (output_id,) = sub.InputsAsNumpy(), sub.OutputsAsNumpy()
        in_shape, out_shape = self.shape(input_id), self.shape(output_id)
        if len(in_shape) != 4 or in_shape[3] != 3 or len(out_shape) != 4 or out_shape[3] != 1:
            raise WeightsError(f"{self.path}: expected an RGB image in and one channel out, "
                               f"found {in_shape} -> {out_shape}")
        ops: list[nn.Module] = []
        wiring: list[tuple[tuple[int, ...], int]] = []
        for i in range(sub.OperatorsLength()):
            op = sub.Operators(i)
            name = self.op_name(op)
            inputs = [int(t) for t in op.InputsAsNumpy()]
            (output,) = (int(t) for t in op.OutputsAsNumpy())
            if name == "DEQUANTIZE":
                source = self.stored(inputs[0])
                if source is None:
                    raise WeightsError(f"{self.path}: DEQUANTIZE of a non-constant tensor")
                self.consts[output] = source.astype(np.float32)
                continue
            module, data_inputs = self.module(name, op, inputs, output)
            ops.append(module)
            wiring.append((tuple(data_inputs), output))
        if drop_final_sigmoid:
            if not (wiring and wiring[-1][1] == output_id and isinstance(ops[-1], Activation)
                    and ops[-1].kind == "LOGISTIC"):
                raise WeightsError(f"{self.path}: expected the graph to end in a sigmoid "
                                   "(a person probability)")
            ops.pop()
            output_id = wiring.pop()[0][0]
        return TFLiteGraph(ops, wiring, input_id, output_id, (in_shape[1], in_shape[2]))

    def module(self, name: str, op, inputs: list[int], output: int
               ) -> tuple[nn.Module, list[int]]:
        """The module for one operator and the indices of its data (non-weight) inputs."""
        tfl = self.tfl
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            depthwise = name == "DEPTHWISE_CONV_2D"
            opts = self.options(op, tfl.DepthwiseConv2DOptions if depthwise
                                else tfl.Conv2DOptions)
            return self.conv(inputs, output, opts, depthwise), [inputs[0]]
        if name == TRANSPOSE_CONV_BIAS:
            return self.transposed(op, inputs, output), [inputs[0]]
        if name in ("ADD", "MUL"):
            opts = self.options(op, tfl.AddOptions if name == "ADD" else tfl.MulOptions)
            if any(t in self.consts or self.stored(t) is not None for t in inputs):
                raise WeightsError(f"{self.path}: {name} with a constant operand is not supported")
            return Elementwise(name, self.fused(opts)), inputs
        if name in ("RELU", "RELU6", "HARD_SWISH", "LOGISTIC"):
            return Activation(name), [inputs[0]]
        if name == "AVERAGE_POOL_2D":
            opts = self.options(op, tfl.Pool2DOptions)
            kernel = (opts.FilterHeight(), opts.FilterWidth())
            if opts.Padding() != tfl.Padding.VALID or self.fused(opts):
                raise WeightsError(f"{self.path}: only VALID average pooling is supported")
            return AveragePool(kernel, (opts.StrideH(), opts.StrideW())), [inputs[0]]
        if name == "MEAN":
            axes = self.stored(inputs[1])
            keep = self.options(op, tfl.ReducerOptions).KeepDims()
            if axes is None or sorted(int(a) for a in axes.ravel()) != [1, 2] or not keep:
                raise WeightsError(f"{self.path}: only a spatial MEAN keeping dims is supported")
            return AveragePool(self.hw(inputs[0]), self.hw(inputs[0])), [inputs[0]]
        if name == "RESIZE_BILINEAR":
            opts = self.options(op, tfl.ResizeBilinearOptions)
            if opts.AlignCorners() or not opts.HalfPixelCenters():
                raise WeightsError(f"{self.path}: only half-pixel-centre bilinear resizing "
                                   "is supported")
            return ResizeBilinear(self.hw(output)), [inputs[0]]
        raise WeightsError(f"{self.path}: unsupported TFLite operator {name}")

    def conv(self, inputs: list[int], output: int, opts, depthwise: bool) -> Conv:
        weight = self.const(inputs[1])                 # OHWI, or 1HWC when depthwise
        bias = self.const(inputs[2]) if len(inputs) > 2 and inputs[2] >= 0 else None
        stride = (opts.StrideH(), opts.StrideW())
        dilation = (opts.DilationHFactor(), opts.DilationWFactor())
        in_c = self.shape(inputs[0])[3]
        if depthwise:
            weight = weight.permute(3, 0, 1, 2)        # (C*mult, 1, KH, KW)
            groups = in_c
        else:
            weight = weight.permute(0, 3, 1, 2)        # (O, I, KH, KW)
            groups = 1
        out_c, _, kh, kw = weight.shape
        conv = nn.Conv2d(in_c, out_c, (kh, kw), stride=stride, dilation=dilation,
                         groups=groups, bias=bias is not None)
        with torch.no_grad():
            conv.weight.copy_(weight.contiguous())
            if bias is not None:
                conv.bias.copy_(bias)
        pad = (0, 0, 0, 0)
        if opts.Padding() == self.tfl.Padding.SAME:
            pad = _same_padding(self.hw(inputs[0]), self.hw(output), (kh, kw), stride, dilation)
        return Conv(conv, pad, activation=self.fused(opts))

    def transposed(self, op, inputs: list[int], output: int) -> TransposedConv:
        options = op.CustomOptionsAsNumpy()
        _padding, stride_w, stride_h = (int(v) for v in options.view(np.int32)[:3])
        weight = self.const(inputs[1])                 # (O, KH, KW, I)
        bias = self.const(inputs[2])
        out_c, kh, kw, in_c = weight.shape
        conv = nn.ConvTranspose2d(in_c, out_c, (kh, kw), stride=(stride_h, stride_w))
        with torch.no_grad():
            conv.weight.copy_(weight.permute(3, 0, 1, 2).contiguous())   # (I, O, KH, KW)
            conv.bias.copy_(bias)
        (in_h, in_w), (out_h, out_w) = self.hw(inputs[0]), self.hw(output)
        full_h, full_w = (in_h - 1) * stride_h + kh, (in_w - 1) * stride_w + kw
        if full_h < out_h or full_w < out_w:
            raise WeightsError(f"{self.path}: transposed convolution output larger than VALID")
        crop = ((full_h - out_h) // 2, (full_w - out_w) // 2)
        return TransposedConv(conv, crop, (out_h, out_w))


def _same_padding(in_hw: tuple[int, int], out_hw: tuple[int, int], kernel: tuple[int, int],
                  stride: tuple[int, int], dilation: tuple[int, int]
                  ) -> tuple[int, int, int, int]:
    """TFLite SAME: total = (out-1)*s + (k-1)*d + 1 - in, the smaller half before.

    Returned in ``F.pad``'s order (left, right, top, bottom).
    """
    pads = []
    for i, o, k, s, d in zip(in_hw, out_hw, kernel, stride, dilation):
        total = max((o - 1) * s + (k - 1) * d + 1 - i, 0)
        pads.append((total // 2, total - total // 2))
    (top, bottom), (left, right) = pads
    return left, right, top, bottom
