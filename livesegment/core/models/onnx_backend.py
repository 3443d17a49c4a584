"""ONNX Runtime as an optional CPU backend (``--backend onnxruntime``, extra ``[onnx]``).

Measured 1.74x faster than PyTorch for ESPNetv2 at 448x256 on 2 CPU cores (BENCHMARKS.md). The
graph is exported once per input size (ESPNetv2's pyramid pooling bakes the size in) and cached
in the user cache folder (``~/.cache/livesegment/onnx`` on Linux, platformdirs' choice
elsewhere), so the ~15 s export is paid on first use of a size only.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import threading
from pathlib import Path

import platformdirs
import torch
from torch import nn

from livesegment.core.models.catalog import BACKENDS  # noqa: F401 - re-exported
from livesegment.errors import DeviceError



def cache_dir() -> Path:
    """Exported graphs: the platform's per-user cache (XDG on Linux, Library/Caches, AppData)."""
    return Path(platformdirs.user_cache_dir("livesegment", appauthor=False)) / "onnx"


def _fingerprint(model: nn.Module) -> str:
    """Changes whenever the weights do, so a cached graph never outlives its checkpoint."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def export_graph(model: nn.Module, path: Path, shape: tuple[int, ...]) -> None:
    """Writes ``model`` as an ONNX graph for inputs of ``shape`` (NCHW float ``x`` in,
    ``logits`` out). The graph is fixed to the shape: ESPNetv2's pyramid bakes it in."""
    example = torch.zeros(shape)
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter chats on stdout
        torch.onnx.export(model, (example,), str(path), input_names=["x"],
                          output_names=["logits"], opset_version=18, dynamo=True,
                          external_data=False)


class OnnxRuntimeModel(nn.Module):
    """Callable like the torch model it was exported from: NCHW float in, logits out."""

    def __init__(self, model: nn.Module, name: str, threads: int | None = None) -> None:
        super().__init__()
        try:
            import onnxruntime
        except ImportError:
            raise DeviceError("the onnxruntime backend needs: pip install 'livesegment[onnx]'"
                              ) from None
        self._ort = onnxruntime
        self._source = model.float().eval()
        self._name = name
        self._key = _fingerprint(self._source)
        self._threads = threads or torch.get_num_threads()
        self._sessions: dict[tuple[int, ...], object] = {}
        self._lock = threading.Lock()

    def _session(self, shape: tuple[int, ...]):
        with self._lock:
            if shape not in self._sessions:
                # A trained model's name is its file's path: only the file name goes in.
                stem = Path(self._name).name
                path = cache_dir() / f"{stem}-{self._key}-{shape[2]}x{shape[3]}.onnx"
                if not path.is_file():
                    self._export(path, shape)
                options = self._ort.SessionOptions()
                options.intra_op_num_threads = self._threads
                # No busy-waiting between ops: the decoder, compositor and encoder threads
                # need those cycles on a small CPU.
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._sessions[shape] = self._ort.InferenceSession(
                    str(path), options, providers=["CPUExecutionProvider"])
            return self._sessions[shape]

    def _export(self, path: Path, shape: tuple[int, ...]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        export_graph(self._source, tmp, shape)
        os.replace(tmp, path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.float().contiguous().cpu().numpy()
        (logits,) = self._session(tuple(batch.shape)).run(None, {"x": batch})
        return torch.from_numpy(logits)
