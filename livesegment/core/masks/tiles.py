"""Big pictures at full detail: the model on overlapping tiles, their class probabilities
blended with a smooth weight window, a band of tile rows at a time.

Why: a defect scan, a micrograph or an aerial photo is many times the model's input, and
shrinking it to that input loses the detail that matters (a scratch a few pixels wide). Each
tile is the model's own input size at scale 1. Where tiles overlap, each pixel's class is the
argmax of the tiles' probabilities weighted by a window that falls off linearly towards each
tile's edges, so a class boundary passes smoothly from one tile's answer to the next (no
seams where the model, seeing less context at a tile's edge, is least sure).

Memory is bounded by a band of one tile row, never the picture: tile rows are processed top
to bottom into a C x tile x W accumulator; the rows no later tile reaches are turned into
labels at once and the rest (the overlap) moves up for the next tile row. Only the uint8
labels are picture-sized, and not even they where the caller takes each band's labels as
they come (:func:`blended_bands`: a still read and written band by band). The argmax of the weighted sum needs no normalising (the weights
are positive everywhere), so no weight plane is kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

OVERLAP = 0.25  # of a tile's side shared with each neighbour: the blending ramp's length

# predict(top, left, height, width) -> C x height x width class probabilities of that tile
TilePredictor = Callable[[int, int, int, int], torch.Tensor]


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Where tiles of side ``tile`` start along an axis of ``length`` pixels: first at 0, last
    ending at ``length``, spread evenly so that neighbours share at least ``overlap`` pixels.
    One tile (of side ``length``) when the axis is no longer than a tile."""
    if length <= tile:
        return [0]
    stride = max(1, tile - overlap)
    count = math.ceil((length - tile) / stride) + 1
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def ramp(length: int, overlap: int) -> torch.Tensor:
    """A 1-D weight window: 1 in the middle, falling linearly over ``overlap`` pixels at each
    end, positive everywhere (so every pixel has weight however the tiles fall)."""
    i = torch.arange(length, dtype=torch.float32)
    edge = float(max(1, overlap) + 1)
    return torch.minimum((i + 1) / edge, (length - i) / edge).clamp_(max=1.0)


@dataclass(frozen=True)
class TileGrid:
    """The tiles covering a ``height`` x ``width`` picture: each ``tile_h`` x ``tile_w``
    (the tile side, or the picture's where it is smaller), at ``rows`` x ``cols`` starts."""

    height: int
    width: int
    tile_h: int
    tile_w: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    overlap: int

    @classmethod
    def of(cls, height: int, width: int, tile: int, overlap: int | None = None) -> TileGrid:
        """The grid for tiles of side ``tile``; ``overlap`` defaults to :data:`OVERLAP` of it."""
        overlap = round(tile * OVERLAP) if overlap is None else overlap
        tile_h, tile_w = min(tile, height), min(tile, width)
        return cls(height, width, tile_h, tile_w, tuple(tile_starts(height, tile, overlap)),
                   tuple(tile_starts(width, tile, overlap)), overlap)

    @property
    def count(self) -> int:
        return len(self.rows) * len(self.cols)

    def window(self) -> torch.Tensor:
        """tile_h x tile_w weights, the product of the two axes' ramps."""
        return ramp(self.tile_h, self.overlap)[:, None] * ramp(self.tile_w, self.overlap)[None]

    def bands(self) -> Iterator[tuple[int, int, int]]:
        """For each tile row: its top, and the rows [top, done) that no later tile row
        reaches (ready to become labels once this row is blended)."""
        for k, top in enumerate(self.rows):
            done = self.rows[k + 1] if k + 1 < len(self.rows) else self.height
            yield k, top, done


def blend_tiles(grid: TileGrid, classes: int, predict: TilePredictor,
                out: np.ndarray | None = None,
                on_band: Callable[[int, int], None] | None = None) -> np.ndarray:
    """HxW uint8 class ids: ``predict``'s tile probabilities blended over ``grid``.

    Holds one band (``classes`` x tile_h x W floats) besides ``out``; ``on_band(top, done)``
    is told each band as its labels are written (progress, and tests that watch memory)."""
    labels = np.empty((grid.height, grid.width), np.uint8) if out is None else out
    for top, done, rows in blended_bands(grid, classes, predict):
        labels[top:done] = rows
        if on_band is not None:
            on_band(top, done)
    return labels


def blended_bands(grid: TileGrid, classes: int, predict: TilePredictor
                  ) -> Iterator[tuple[int, int, np.ndarray]]:
    """The labels of ``grid``'s rows as they are finished, top to bottom: ``(top, done,
    labels)``, labels the (done - top) x W uint8 class ids of rows [top, done). A caller that
    hands each band on (a picture written row by row) holds no picture-sized array at all.
    ``predict`` is asked for the tiles in order, a tile row at a time, top to bottom."""
    window = grid.window()
    band = new_band(classes, grid.tile_h, grid.width)
    for _k, top, done in grid.bands():
        for left in grid.cols:
            probs = predict(top, left, grid.tile_h, grid.tile_w)
            band[:, :, left:left + grid.tile_w].addcmul_(probs, window)
        ready = done - top
        yield top, done, band_argmax(band[:, :ready])
        carried = grid.tile_h - ready  # rows the next tile row also covers
        if carried > 0:
            band[:, :carried] = band[:, ready:ready + carried].clone()
        band[:, max(carried, 0):] = 0


def band_argmax(scores: torch.Tensor) -> np.ndarray:
    """The argmax over classes of a C x h x W band, as uint8, a class plane at a time: each
    step reads contiguous rows, where torch's argmax over the first dimension of a band's
    slice measured 20x slower (2.2 s a band 12000 pixels wide). The first of equal classes
    wins, as with argmax."""
    best = scores[0].clone()
    labels = torch.zeros(best.shape, dtype=torch.uint8)
    for c in range(1, scores.shape[0]):
        labels.masked_fill_(scores[c] > best, c)
        torch.maximum(best, scores[c], out=best)
    return labels.numpy()


def new_band(classes: int, height: int, width: int) -> torch.Tensor:
    """The one accumulator a tiled run allocates (apart from its labels): its own function
    so that tests can see how large it is."""
    return torch.zeros(classes, height, width)
