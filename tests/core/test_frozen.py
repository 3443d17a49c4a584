"""Frozen per-shape graphs: built when a shape is hot, checked against eager, eager otherwise."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from livesegment.core.models.espnetv2 import fold_batch_norms
from livesegment.core.models.frozen import FrozenPerShape
from livesegment.core.segmenter import Segmenter
from livesegment.core.models.zoo import get_spec, load_model


class Counting(nn.Module):
    """A small conv net that counts its eager calls, so a test can see which path ran."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return torch.relu(self.conv(x))


class Drifting(Counting):
    """Its output depends on a Python value a trace would bake in: the graph must be refused."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.conv(x) * self.calls


class Untraceable(Counting):
    def forward(self, x: torch.Tensor):
        self.calls += 1
        return {"out": [self.conv(x)]}  # a trace cannot return this


def _x(h: int = 16, w: int = 24, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, 3, h, w, generator=g).contiguous(memory_format=torch.channels_last)


@torch.inference_mode()
def test_a_hot_shape_gets_a_graph_that_then_serves_it():
    net = Counting().eval()
    model = FrozenPerShape(net, hot_after=3, background=False)
    x = _x()
    expected = net(x)
    net.calls = 0
    for _ in range(3):
        assert torch.allclose(model(x), expected, atol=1e-6)
    assert model.graph_for(x.shape) is not None
    eager_calls = net.calls
    for seed in range(5):
        assert torch.allclose(model(_x(seed=seed)), net(_x(seed=seed)), atol=1e-5)
    assert net.calls == eager_calls + 5  # only the reference calls above ran eagerly


@torch.inference_mode()
def test_each_shape_has_its_own_graph_and_cold_shapes_run_eagerly():
    net = Counting().eval()
    model = FrozenPerShape(net, hot_after=2, background=False)
    for _ in range(2):
        model(_x(16, 24))
    net.calls = 0
    model(_x(32, 24))  # another shape: not hot yet, so eager
    assert net.calls == 1 and model.graph_for((1, 3, 32, 24)) is None
    assert model.graph_for((1, 3, 16, 24)) is not None


@torch.inference_mode()
def test_only_the_newest_shapes_keep_graphs():
    model = FrozenPerShape(Counting().eval(), hot_after=1, max_graphs=2, background=False)
    for h in (8, 16, 24):
        model(_x(h, 8))
    assert model.graph_for((1, 3, 8, 8)) is None
    assert model.graph_for((1, 3, 16, 8)) is not None and model.graph_for((1, 3, 24, 8)) is not None


@pytest.mark.parametrize("net_type", [Drifting, Untraceable])
@torch.inference_mode()
def test_a_wrong_or_failed_graph_leaves_the_shape_eager(net_type):
    net = net_type().eval()
    model = FrozenPerShape(net, hot_after=1, background=False)
    x = _x()
    model(x)
    assert model.graph_for(x.shape) is None
    before = net.calls
    model(x)
    assert net.calls == before + 1  # still the eager network


@torch.inference_mode()
def test_frames_keep_flowing_while_a_graph_builds_in_the_background():
    net = Counting().eval()
    model = FrozenPerShape(net, hot_after=2)
    x = _x()
    deadline = time.monotonic() + 30
    served = 0
    while model.graph_for(x.shape) is None and time.monotonic() < deadline:
        assert model(x).shape == (1, 4, 16, 24)
        served += 1
    assert model.graph_for(x.shape) is not None and served >= 2


@torch.inference_mode()
def test_espnetv2_graph_gives_the_eager_labels():
    """The shipped network, frozen at the default input shape, on a real-looking input."""
    spec = get_spec("espnetv2-voc")
    net = fold_batch_norms(load_model(spec)).to(memory_format=torch.channels_last).eval()
    model = FrozenPerShape(net, background=False)
    assert model.prepare((1, 3, 256, 448))
    x = _x(256, 448, seed=3)
    frozen, eager = model(x), net(x)
    assert (frozen - eager).abs().max() < 1e-3 * eager.abs().max()
    assert (frozen.argmax(1) == eager.argmax(1)).float().mean() > 0.9999


def test_segmenter_uses_it_on_the_cpu_and_warm_up_builds_it():
    seg = Segmenter.create("espnetv2-voc", "cpu", size=64)
    assert isinstance(seg.model, FrozenPerShape)
    seg.warm_up(120, 160)
    assert seg.model.graph_for((1, 3, *seg.input_size(120, 160))) is not None


def test_a_long_video_job_builds_the_graph_from_its_first_frame(tmp_path):
    """12 frames spread over 11 s: never hot by count, but long enough to be worth a graph."""
    import threading

    from livesegment.pipeline.job import process_file
    from tests.conftest import make_clip

    clip = tmp_path / "slow.mp4"
    make_clip(clip, times_s=[i * 0.95 for i in range(12)], size=(96, 128), rate=1)
    seg = Segmenter.create("espnetv2-voc", "cpu", size=64)
    report = process_file(clip, tmp_path / "out.mp4", seg, seg.default_style())
    assert report.frames == 12 and report.duration_s > 10
    for thread in threading.enumerate():
        if thread.name == "livesegment-freeze":
            thread.join(60)
    assert seg.model.graph_for((1, 3, *seg.input_size(96, 128))) is not None
