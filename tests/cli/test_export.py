"""``livesegment export``: an ONNX graph that matches torch, or no file at all."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from livesegment.cli import main
from livesegment.core.models.model_file import pack
from tests.core.test_model_file import _card


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    card = _card(size=64)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("m") / "parts.pt"
    torch.save(pack(card, card.build().state_dict()), path)
    return path


def test_export_writes_a_graph_that_matches_torch_with_its_card(model_file, tmp_path, capsys):
    out = tmp_path / "parts.onnx"
    assert main(["export", str(model_file), "-o", str(out), "--size", "64",
                 "--width", "96"]) == 0
    err = capsys.readouterr().err
    assert "input 1x3x64x96, logits 1x3x64x96" in err and "100.00% of pixels agree" in err
    graph = onnx.load(str(out))
    meta = {p.key: p.value for p in graph.metadata_props}
    assert json.loads(meta["classes"]) == ["background", "scratch", "dent"]
    assert json.loads(meta["mean"]) == [0.5, 0.5, 0.5]
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"x": np.zeros((1, 3, 64, 96), np.float32)})
    assert logits.shape == (1, 3, 64, 96)
    assert main(["export", str(model_file), "-o", str(out)]) == 2
    assert "exists; --overwrite" in capsys.readouterr().err


def test_a_graph_that_disagrees_with_torch_is_not_kept(model_file, tmp_path, capsys,
                                                       monkeypatch):
    real_run = onnxruntime.InferenceSession.run

    def off_by_a_lot(self, names, feeds):
        return [out + np.random.default_rng(0).normal(0, 100, out.shape).astype(np.float32)
                for out in real_run(self, names, feeds)]

    monkeypatch.setattr(onnxruntime.InferenceSession, "run", off_by_a_lot)
    out = tmp_path / "bad.onnx"
    assert main(["export", str(model_file), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not match torch" in err and "not written" in err and "\n" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "message"), [
    (["--size", "70"], "not a multiple of 32"),
    (["-o_suffix"], "must end in .onnx"),
])
def test_bad_export_requests_exit_2(model_file, tmp_path, capsys, args, message):
    out = tmp_path / ("m.bin" if args == ["-o_suffix"] else "m.onnx")
    extra = [] if args == ["-o_suffix"] else args
    assert main(["export", str(model_file), "-o", str(out), *extra]) == 2
    assert message in capsys.readouterr().err
