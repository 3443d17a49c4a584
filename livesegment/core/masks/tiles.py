"""Big pictures at full detail: the model on overlapping tiles, their class probabilities
blended with a smooth weight window, a band of tile rows at a time.

Why: a defect scan, a micrograph or an aerial photo is many times the model's input, and
shrinking it to that input loses the detail that matters (a scratch a few pixels wide). Each
tile is the model's own input size at scale 1. Where tiles overlap, each pixel's class is the
argmax of the tiles' probabilities weighted by a window that falls off linearly towards each
tile's edges, so a class boundary passes smoothly from one tile's answer to the next (no
seams where the model, seeing less context at a tile's edge, is least sure).

Memory is bounded by the overlap of two tile rows, never the picture: tile rows are
processed top to bottom, each tile left to right in a C x tile x tile accumulator; the columns
no later tile of the row reaches become labels at once, and their rows the next tile row
shares wait in a C x overlap x W strip. Only the uint8 labels are picture-sized, and not even
they where the caller takes each band's labels as they come (:func:`blended_bands`: a still
read and written band by band). The argmax of the weighted sum needs no normalising (the weights
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

    @property
    def shared_rows(self) -> int:
        """The most rows two neighbouring tile rows share (0 for one tile row)."""
        return max(self.tile_h - (done - top) for _k, top, done in self.bands())

    def bands(self) -> Iterator[tuple[int, int, int]]:
        """For each tile row: its top, and the rows [top, done) that no later tile row
        reaches (ready to become labels once this row is blended)."""
        for k, top in enumerate(self.rows):
            done = self.rows[k + 1] if k + 1 < len(self.rows) else self.height
            yield k, top, done


def blended_bands(grid: TileGrid, classes: int, predict: TilePredictor
                  ) -> Iterator[tuple[int, int, np.ndarray]]:
    """The labels of ``grid``'s rows as they are finished, top to bottom: ``(top, done,
    labels)``, labels the (done - top) x W uint8 class ids of rows [top, done). A caller that
    hands each band on (a picture written row by row) holds no picture-sized array at all.
    ``predict`` is asked for the tiles in order, left to right, a tile row at a time.

    What is held: the tile in hand with what earlier tiles added to it (``classes`` x tile x
    tile), and the rows the next tile row shares with this one across the width
    (``classes`` x overlap x W), a quarter of a band of tiles. Columns are finished as soon as
    no later tile of the row reaches them. Each pixel's sum is built in the same order as
    one whole-picture accumulator would build it (tile rows, then tiles left to right), so
    the labels are exactly that accumulator's."""
    window = grid.window()
    tile_h, tile_w = grid.tile_h, grid.tile_w
    shared = new_band(classes, grid.shared_rows, grid.width)  # with the next tile row
    held = new_band(classes, tile_h, tile_w)  # the tile in hand and its neighbours' parts
    inherited = 0  # rows at the top of this tile row that the last one left in ``shared``
    for _k, top, done in grid.bands():
        ready = done - top
        passed = tile_h - ready  # rows the next tile row shares (none after the last)
        labels = np.empty((ready, grid.width), np.uint8)
        kept = 0  # columns at the left of ``held`` that the previous tile filled
        for j, left in enumerate(grid.cols):
            if j:
                kept = grid.cols[j - 1] + tile_w - left
                moved = left - grid.cols[j - 1]
                held[:, :, :kept] = held[:, :, moved:moved + kept].clone()
            held[:, :, kept:] = 0
            held[:, :inherited, kept:] = shared[:, :inherited, left + kept:left + tile_w]
            held.addcmul_(predict(top, left, tile_h, tile_w), window)
            end = grid.cols[j + 1] if j + 1 < len(grid.cols) else grid.width
            labels[:, left:end] = band_argmax(held[:, :ready, :end - left])
            shared[:, :passed, left:end] = held[:, ready:, :end - left]
        inherited = passed
        yield top, done, labels


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
    """The accumulators a tiled run allocates (apart from its labels): their own function
    so that tests can see how large they are."""
    return torch.zeros(classes, height, width)
