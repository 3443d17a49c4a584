"""From low-resolution logits to class ids at the frame's own resolution.

The result equals ``F.interpolate(logits, size, mode="bilinear").argmax(1)``: crisp edges, no
blocky nearest-neighbour labels. Computing that directly costs C full-resolution planes (21 x
1280 x 720 floats for a 720p frame, ~1 GB for an 8K still). Instead:

* bilinear interpolation is a convex mix of four source pixels, so where those four share one
  argmax class, that class wins for every output pixel between them (its margin over any
  other class is a convex mix of non-negative margins);
* only output pixels in cells that straddle a class boundary need interpolating, and in most
  such cells only two classes can win anywhere (see :func:`_two_class_cells`), so one
  interpolated margin decides each pixel; all C logits are interpolated only where three or
  more classes compete.

Boundary pixels are a few percent of a frame, so time and memory scale with the object outlines
rather than with C x H x W. Measured on one thread, 720p frames of the shared footage: 5.3 ms
(10.3 ms before the two-class step), against 98 ms for upsampling all 21 planes, same labels.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

CHUNK_ELEMENTS = 1 << 22  # C x pixels handled at once for boundary pixels


def source_taps(out_size: int, in_size: int, device: torch.device
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each output index: lower source index, upper source index and the upper's weight.

    Same arithmetic as PyTorch's ``align_corners=False`` bilinear (half-pixel centres, clamped
    at the low edge, upper index clamped at the last pixel).
    """
    scale = in_size / out_size
    src = ((torch.arange(out_size, device=device, dtype=torch.float32) + 0.5) * scale - 0.5)
    src = src.clamp_(min=0)
    lo = src.to(torch.int64).clamp_(max=in_size - 1)
    hi = (lo + 1).clamp_(max=in_size - 1)
    return lo, hi, src - lo


def labels_from_logits(logits: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
    """``logits`` 1xCxhxw (any float dtype) -> HxW uint8 class ids at ``out_hw``."""
    scores = logits[0].float()
    c, h, w = scores.shape
    height, width = out_hw
    dev = scores.device
    # Pixel-major layout: argmax and the gathers below read C contiguous floats per pixel.
    table = scores.permute(1, 2, 0).reshape(h * w, c).contiguous()
    coarse = table.argmax(1).view(h, w)
    y0, y1, wy = source_taps(height, h, dev)
    x0, x1, wx = source_taps(width, w, dev)
    # A cell (i, j) spans source pixels i..i+1, j..j+1; it is uniform when all four agree.
    right = torch.cat([coarse[:, 1:], coarse[:, -1:]], 1)
    down = torch.cat([coarse[1:], coarse[-1:]], 0)
    down_right = torch.cat([down[:, 1:], down[:, -1:]], 1)
    uniform = (coarse == right) & (coarse == down) & (coarse == down_right)
    labels = gather2d(coarse.to(torch.uint8), y0, x0)
    i, j = (~uniform).nonzero(as_tuple=True)  # the mixed cells' rows and columns
    if i.numel() == 0:
        return labels
    ys, xs, owner = cell_pixels(i, j, y0, x0, h, w)
    pairs = _two_class_cells(table, i, j, h, w)
    d = pairs.margins.index_select(0, owner)  # lower class's margin at the four corners
    fy, fx = wy.index_select(0, ys), wx.index_select(0, xs)
    margin = torch.lerp(torch.lerp(d[:, 0], d[:, 1], fx), torch.lerp(d[:, 2], d[:, 3], fx), fy)
    labels[ys, xs] = torch.where(margin >= 0, pairs.low.index_select(0, owner),
                                 pairs.high.index_select(0, owner))
    crowded = (~pairs.two.index_select(0, owner)).nonzero()[:, 0]  # 3+ classes compete
    _all_classes(labels, table, ys.index_select(0, crowded), xs.index_select(0, crowded),
                 (y0, y1, wy), (x0, x1, wx), w)
    return labels


def cell_pixels(i: torch.Tensor, j: torch.Tensor, y0: torch.Tensor, x0: torch.Tensor, h: int,
                 w: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Output pixels whose four source taps are the corners of the given cells: rows, columns
    and the index of their cell. Taps only grow along a row or column, so each cell owns one
    rectangular block of the output; listing blocks avoids scanning the full frame."""
    dev = i.device
    row_count = torch.bincount(y0, minlength=h)
    col_count = torch.bincount(x0, minlength=w)
    row_start = torch.cumsum(row_count, 0) - row_count
    col_start = torch.cumsum(col_count, 0) - col_count
    nr, nc = row_count.index_select(0, i), col_count.index_select(0, j)
    sizes = nr * nc
    owner = torch.repeat_interleave(torch.arange(i.numel(), device=dev), sizes)
    first = torch.cumsum(sizes, 0) - sizes
    k = torch.arange(owner.numel(), device=dev) - first.index_select(0, owner)
    width = nc.index_select(0, owner)
    row = torch.div(k, width, rounding_mode="floor")
    ys = row_start.index_select(0, i).index_select(0, owner) + row
    xs = col_start.index_select(0, j).index_select(0, owner) + (k - row * width)
    return ys, xs, owner


class _Pairs(NamedTuple):
    two: torch.Tensor      # per mixed cell: only two classes can win anywhere inside it
    low: torch.Tensor      # those two class ids, low < high
    high: torch.Tensor
    margins: torch.Tensor  # score[low] - score[high] at the four corners (00, 01, 10, 11)


def _two_class_cells(table: torch.Tensor, i: torch.Tensor, j: torch.Tensor, h: int,
                     w: int) -> _Pairs:
    """Which classes can win inside each mixed cell, without interpolating.

    A bilinear mix never exceeds the largest of its four corner values, and never falls below
    the smallest. So class k can only win somewhere in the cell if its largest corner score
    reaches the best smallest-corner score of any class. Most cells on an outline have two
    such candidates, and then the sign of one interpolated margin decides each pixel.
    """
    i1, j1 = (i + 1).clamp_(max=h - 1), (j + 1).clamp_(max=w - 1)
    corners = torch.stack([table.index_select(0, a * w + b) for a, b in
                           ((i, j), (i, j1), (i1, j), (i1, j1))], 1)  # M x 4 x C
    floor = corners.amin(1).amax(1, keepdim=True)
    candidate = corners.amax(1) >= floor
    two = candidate.sum(1) == 2
    c = table.shape[1]
    ids = torch.arange(c, device=table.device)
    low = torch.where(candidate, ids, c).amin(1).clamp_(max=c - 1).to(torch.uint8)
    high = torch.where(candidate, ids, -1).amax(1).clamp_(min=0).to(torch.uint8)
    margins = (corners.gather(2, low.long().view(-1, 1, 1).expand(-1, 4, 1))
               - corners.gather(2, high.long().view(-1, 1, 1).expand(-1, 4, 1)))[..., 0]
    return _Pairs(two, low, high, margins)


def _all_classes(labels: torch.Tensor, table: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor,
                 rows: tuple[torch.Tensor, ...], cols: tuple[torch.Tensor, ...], w: int) -> None:
    """Interpolates every class at the given pixels (cells where three or more classes
    compete), in bounded chunks."""
    y0, y1, wy = rows
    x0, x1, wx = cols
    step = max(1, CHUNK_ELEMENTS // table.shape[1])
    for start in range(0, ys.numel(), step):
        yy, xx = ys[start:start + step], xs[start:start + step]
        a, b = y0[yy] * w, y1[yy] * w
        l, r = x0[xx], x1[xx]
        fy, fx = wy[yy, None], wx[xx, None]
        top = torch.lerp(table.index_select(0, a + l), table.index_select(0, a + r), fx)
        bottom = torch.lerp(table.index_select(0, b + l), table.index_select(0, b + r), fx)
        labels[yy, xx] = torch.lerp(top, bottom, fy).argmax(1).to(torch.uint8)


def gather2d(grid: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
              use_numpy: bool | None = None) -> torch.Tensor:
    """``grid[rows][:, cols]``: separable lookups, numpy's ``take`` on the CPU (about 4x faster
    than torch's gathers for small dtypes), ``index_select`` on the GPU."""
    if use_numpy is None:
        use_numpy = grid.device.type == "cpu"
    if use_numpy:
        picked = grid.numpy().take(rows.numpy(), 0).take(cols.numpy(), 1)
        return torch.from_numpy(picked)
    return grid.index_select(0, rows).index_select(1, cols)
