"""Tiling maths (core/masks/tiles.py): the grid covers every pixel, the weights are positive
everywhere, and blending leaves no seams where tiles meet."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import livesegment.core.masks.tiles as tiles
from livesegment.core.masks.tiles import TileGrid, blended_bands, ramp, tile_starts


@pytest.mark.parametrize(("length", "tile", "overlap", "starts"), [
    (100, 256, 64, [0]),                 # shorter than a tile: one tile of the axis
    (256, 256, 64, [0]),                 # exactly one tile
    (257, 256, 64, [0, 1]),              # one pixel more: a second tile, flush with the end
    (448, 256, 64, [0, 192]),            # stride 192 fits exactly
    (1000, 256, 64, [0, 186, 372, 558, 744]),  # spread evenly, never more than 192 apart
    (300, 100, 0, [0, 100, 200]),        # no overlap: side by side
])
def test_tile_starts(length, tile, overlap, starts):
    assert tile_starts(length, tile, overlap) == starts


@pytest.mark.parametrize("length", [1, 31, 256, 257, 700, 1000, 4099])
@pytest.mark.parametrize(("tile", "overlap"), [(64, 16), (256, 64), (96, 48)])
def test_tiles_cover_every_pixel_and_overlap_at_least_as_asked(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    side = min(tile, length)
    covered = np.zeros(length, bool)
    for s in starts:
        covered[s:s + side] = True
    assert covered.all()
    assert starts[0] == 0 and starts[-1] + side == length
    assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))
    assert all(b > a for a, b in zip(starts, starts[1:]))


@pytest.mark.parametrize(("length", "overlap"), [(1, 64), (5, 2), (64, 16), (256, 64)])
def test_the_window_is_positive_everywhere_and_one_in_the_middle(length, overlap):
    w = ramp(length, overlap)
    assert w.shape == (length,) and bool((w > 0).all()) and float(w.max()) <= 1.0
    assert torch.equal(w, w.flip(0))  # symmetric: neither side favoured
    if length > 2 * overlap + 2:
        assert float(w[length // 2]) == 1.0 and float(w[0]) < 0.1


def test_grid_weights_sum_above_zero_at_every_pixel():
    grid = TileGrid.of(300, 500, 128)
    total = torch.zeros(300, 500)
    for top in grid.rows:
        for left in grid.cols:
            total[top:top + grid.tile_h, left:left + grid.tile_w] += grid.window()
    assert float(total.min()) > 0


def _scene(height: int, width: int) -> np.ndarray:
    """Three classes in blobs and stripes that cross every tile edge."""
    yy, xx = np.mgrid[:height, :width]
    labels = np.zeros((height, width), np.int64)
    labels[(yy - height // 2) ** 2 + (xx - width // 3) ** 2 < (height // 3) ** 2] = 1
    labels[(xx + yy) % 97 < 20] = 2
    return labels


def _edge_shy_model(scene: torch.Tensor, classes: int = 3) -> torch.Tensor:
    """A model that is less sure near its input's edges, as networks are (less context): a
    class's evidence is scaled by the share of a 9x9 window inside the input, so on the
    outermost pixel of its input the background (a constant logit of 12) wins. CxHxW
    probabilities of the HxW class map ``scene``."""
    inside = F.avg_pool2d(torch.ones(1, 1, *scene.shape), 9, stride=1, padding=4,
                          count_include_pad=True)[0, 0]
    logits = F.one_hot(scene, classes).permute(2, 0, 1).float() * (20 * inside)
    logits[0] = torch.clamp(logits[0], min=12.0)
    return torch.softmax(logits, 0)


def blend_tiles(grid: TileGrid, classes: int, predict, on_band=None) -> np.ndarray:
    """The whole picture's labels from :func:`blended_bands`, ``on_band(top, done)`` told
    of each band as it comes (as ``Segmenter.tile_labels`` collects them)."""
    labels = np.empty((grid.height, grid.width), np.uint8)
    for top, done, rows in blended_bands(grid, classes, predict):
        labels[top:done] = rows
        if on_band is not None:
            on_band(top, done)
    return labels


def _predictor(scene: torch.Tensor, calls: list | None = None):
    def predict(top, left, h, w):
        if calls is not None:
            calls.append((top, left, h, w))
        return _edge_shy_model(scene[top:top + h, left:left + w])
    return predict


@pytest.mark.parametrize(("height", "width", "tile"), [(300, 500, 128), (257, 700, 96),
                                                       (128, 128, 128), (90, 400, 128)])
def test_blended_tiles_give_the_whole_picture_labels_without_seams(height, width, tile):
    scene = torch.from_numpy(_scene(height, width))
    whole = _edge_shy_model(scene).argmax(0).numpy()
    tiled = blend_tiles(TileGrid.of(height, width, tile), 3, _predictor(scene))
    np.testing.assert_array_equal(tiled, whole)


def test_tiles_side_by_side_without_blending_show_seams():
    """The check above can fail: tiles that only meet (no overlap to blend in) each show
    their unsure edge as a line."""
    scene = torch.from_numpy(_scene(384, 512))
    whole = _edge_shy_model(scene).argmax(0).numpy()
    grid = TileGrid.of(384, 512, 128, overlap=0)
    assert grid.rows == (0, 128, 256) and grid.cols == (0, 128, 256, 384)
    tiled = blend_tiles(grid, 3, _predictor(scene))
    wrong = tiled != whole
    assert wrong.sum() > 500
    assert wrong[:, 126:130].mean() > 10 * wrong.mean()  # along the seam at x = 128
    assert (tiled[wrong] == 0).all()  # the background won where a tile was unsure


@pytest.mark.parametrize("constant", [0, 2])
def test_a_constant_model_gives_its_class_everywhere(constant):
    probs = torch.full((3, 1, 1), 0.1)
    probs[constant] = 0.8

    def predict(top, left, h, w):
        return probs.expand(3, h, w)

    labels = blend_tiles(TileGrid.of(333, 444, 64), 3, predict)
    assert labels.shape == (333, 444) and (labels == constant).all()


def test_memory_is_a_tile_and_a_strip_of_overlap_and_every_tile_is_seen_once(monkeypatch):
    """A 1000x1500 picture in 128-pixel tiles: one tile's accumulator and one strip of the
    rows two tile rows share across the width, whatever the height; each tile predicted
    once, labels written band by band."""
    bands: list[tuple[int, ...]] = []
    real = tiles.new_band
    monkeypatch.setattr(tiles, "new_band", lambda *shape: bands.append(shape) or real(*shape))
    scene = torch.from_numpy(_scene(1000, 1500))
    calls: list = []
    written: list[tuple[int, int]] = []
    grid = TileGrid.of(1000, 1500, 128)
    blend_tiles(grid, 3, _predictor(scene, calls), on_band=lambda a, b: written.append((a, b)))
    assert grid.shared_rows == 128 - 87  # rows start 87 or 88 apart
    assert sorted(bands) == [(3, 41, 1500), (3, 128, 128)]
    assert calls == [(t, l, 128, 128) for t in grid.rows for l in grid.cols]  # in order
    assert len(written) == len(grid.rows) and written[0][0] == 0 and written[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in zip(written, written[1:]))  # contiguous, in order
    assert max(b - a for a, b in written[:-1]) <= 128 - 32  # the last band ends the picture


def whole_sum_labels(grid: TileGrid, classes: int, predict) -> np.ndarray:
    """The plainest blend: every tile added into one whole-picture accumulator, tile rows
    top to bottom and tiles left to right, then the argmax."""
    total = torch.zeros(classes, grid.height, grid.width)
    for top in grid.rows:
        for left in grid.cols:
            total[:, top:top + grid.tile_h, left:left + grid.tile_w].addcmul_(
                predict(top, left, grid.tile_h, grid.tile_w), grid.window())
    return tiles.band_argmax(total)


@pytest.mark.parametrize(("height", "width", "tile", "overlap"), [
    (300, 500, 128, None), (257, 700, 96, None), (1000, 333, 64, None), (130, 130, 128, None),
    (400, 600, 100, 0), (90, 400, 128, None), (500, 300, 64, 50)])
def test_band_by_band_labels_are_exactly_one_accumulators(height, width, tile, overlap):
    """Bit for bit, on noisy probabilities where near-ties abound: the sums are built in
    the same order, so streaming the bands changes no label."""
    gen = torch.Generator().manual_seed(height * width)
    noise = torch.softmax(torch.randn(5, height, width, generator=gen) * 0.05, 0)

    def predict(top, left, h, w):
        return noise[:, top:top + h, left:left + w]

    grid = TileGrid.of(height, width, tile, overlap)
    np.testing.assert_array_equal(blend_tiles(grid, 5, predict),
                                  whole_sum_labels(grid, 5, predict))
