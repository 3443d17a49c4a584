"""The optional ONNX Runtime backend gives the torch backend's labels, and caches its graphs."""

from __future__ import annotations

import numpy as np
import pytest

from livesegment.core.frames import Frame
from livesegment.core.segmenter import Segmenter
from livesegment.errors import DeviceError

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def test_onnxruntime_matches_torch_and_reuses_its_export(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    rng = np.random.default_rng(5)
    bgr = rng.integers(0, 255, (90, 160, 3), np.uint8)
    bgr[20:70, 40:90] = (60, 60, 200)
    torch_seg = Segmenter.create("espnetv2-voc", "cpu", size=64)
    ort_seg = Segmenter.create("espnetv2-voc", "cpu", size=64, backend="onnxruntime")
    style = torch_seg.default_style()
    a = torch_seg.process(Frame(0, 0.0, bgr), style)
    b = ort_seg.process(Frame(0, 0.0, bgr), style)
    assert (a.labels == b.labels).mean() > 0.999
    cached = list((tmp_path / "livesegment" / "onnx").glob("espnetv2-voc-*-64x128.onnx"))
    assert len(cached) == 1
    again = Segmenter.create("espnetv2-voc", "cpu", size=64, backend="onnxruntime")
    mtime = cached[0].stat().st_mtime_ns
    again.process(Frame(1, 0.0, bgr), style)
    assert cached[0].stat().st_mtime_ns == mtime  # loaded from the cache, not exported again


def test_onnxruntime_is_cpu_only_and_names_are_checked():
    with pytest.raises(DeviceError, match="unknown backend 'tensorrt'"):
        Segmenter.create("espnetv2-voc", "cpu", backend="tensorrt")


def test_cache_folder_is_the_platform_user_cache(monkeypatch, tmp_path):
    from livesegment.core.models.onnx_backend import cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "livesegment" / "onnx"
