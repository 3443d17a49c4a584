"""The branches the CUDA path takes, run on the CPU: float resize, torch gathers, fp16.

No GPU here, so these prove the logic of the GPU code path with the very functions it uses;
speed on a GPU is measured by ``livesegment bench --device cuda`` (BENCHMARKS.md).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from livesegment.core.models.espnetv2 import fold_batch_norms
from livesegment.core.compose.overlay import OverlayStyle, blend_dense, blend_numpy
from livesegment.core.compose.palette import voc_palette
from livesegment.core.masks.postprocess import gather2d, labels_from_logits
from livesegment.core.masks.preprocess import to_model_input
from livesegment.core.models.zoo import get_spec, load_model
from tests.conftest import FOOTAGE, PERSON, needs_footage

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@pytest.mark.parametrize(("h", "w", "size"), [(720, 1280, (256, 448)), (61, 83, (64, 96)),
                                              (32, 32, (32, 32))])
def test_float_resize_branch_matches_the_uint8_one(h, w, size):
    bgr = torch.from_numpy(np.random.default_rng(h).integers(0, 256, (h, w, 3), np.uint8))
    gpu_way = to_model_input(bgr, size, MEAN, STD, torch.float32, resize_uint8=False)
    cpu_way = to_model_input(bgr, size, MEAN, STD, torch.float32, resize_uint8=True)
    assert gpu_way.shape == cpu_way.shape == (1, 3, *size)
    assert (gpu_way - cpu_way).abs().max() <= 1.0 / (255 * min(STD)) + 1e-5  # one grey level


@pytest.mark.parametrize("dtype", [torch.uint8, torch.bool])
def test_gather_branches_agree(dtype):
    grid = torch.randint(0, 21, (37, 53)).to(dtype)
    rows, cols = torch.randint(0, 37, (120,)), torch.randint(0, 53, (210,))
    assert torch.equal(gather2d(grid, rows, cols, use_numpy=False),
                       gather2d(grid, rows, cols, use_numpy=True))
    assert torch.equal(gather2d(grid, rows, cols), grid[rows][:, cols])


@pytest.mark.parametrize("style", [
    {"opacity": 0.5}, {"opacity": 0.0}, {"opacity": 1.0}, {"opacity": 0.3},
    {"opacity": 0.77, "selected": frozenset({15, 7, 3})},
    {"opacity": 0.3, "mask_only": True, "selected": frozenset({15})},
    {"opacity": 0.6, "selected": frozenset()},
], ids=str)
def test_gpu_blend_equals_the_cpu_blend(style):
    """The dense torch formula (GPU) and the OpenCV passes (CPU) agree bit for bit, including
    the round-half-up ties that random 8-bit pixels hit often."""
    rng = np.random.default_rng(len(str(style)))
    bgr = rng.integers(0, 256, (61, 83, 3), np.uint8)
    labels = rng.integers(0, 21, (61, 83), np.uint8)
    s = OverlayStyle(voc_palette(21), 0, **style)
    dense = blend_dense(torch.from_numpy(bgr), torch.from_numpy(labels), s).numpy()
    assert np.array_equal(dense, blend_numpy(bgr, labels, s))
    a = s.weight_table[labels][..., None]  # the formula, spelled out in plain integers
    expected = (bgr.astype(np.int32) * (256 - a) + s.colour_table[labels] * a + 128) >> 8
    assert np.array_equal(dense, expected.astype(np.uint8))


@needs_footage()
def test_half_precision_model_gives_the_same_overlay():
    """fp16 weights and inputs (what CUDA runs) against fp32 on a real frame."""
    import av

    with av.open(str(FOOTAGE)) as c:
        bgr = next(iter(c.decode(video=0))).to_ndarray(format="bgr24")
    spec = get_spec("espnetv2-voc")
    net = fold_batch_norms(load_model(spec))
    pixels = torch.from_numpy(bgr)
    labels = {}
    for dtype in (torch.float32, torch.float16):
        model = net.to(dtype)
        x = to_model_input(pixels, (256, 448), spec.mean, spec.std, dtype, resize_uint8=False)
        with torch.inference_mode():
            labels[dtype] = labels_from_logits(model(x), bgr.shape[:2])
    agree = (labels[torch.float16] == labels[torch.float32]).float().mean().item()
    assert agree > 0.995
    assert (labels[torch.float16] == PERSON).float().mean().item() > 0.02
    image = blend_dense(pixels, labels[torch.float16], OverlayStyle(spec.palette, 0, 0.5))
    assert image.dtype == torch.uint8 and image.shape == pixels.shape
