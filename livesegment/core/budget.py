"""The memory budget: how large a picture, a model input or a scaled copy may get.

Why: sizes come from users' files and options, and a file of a few bytes can state or imply an
enormous picture (a PNG header claiming 100000x100000 pixels; a 1x30000 strip whose short
side, scaled to the model's 256, makes the long one 7.7 million). Every size is checked here
from both sides before anything is allocated, so a run stays within about
:data:`MEMORY_BUDGET_GB` or is refused with one line naming the file and the limit.

The limits come from peak memory measured on the CPU (BENCHMARKS.md, "Hostile inputs"): the
process starts near 0.9 GB with torch loaded, a picture then costs 20-40 bytes per pixel
through decoding, refinement, effects and encoding, and the heaviest model (DeepLabv3
ResNet-101) about 900 bytes per pixel of its input.
"""

from __future__ import annotations

import math

from livesegment.errors import InputError

MEMORY_BUDGET_GB = 3
# A decoded still: 50 megapixels (a 48 MP phone photo fits).
MAX_PICTURE_PIXELS = 50_000_000
# A still segmented in tiles (``--tile``) and coloured pixel by pixel (an overlay or the mask
# view): the picture, its labels and one band of tiles are all it holds, about 5 bytes a pixel
# instead of 20-40 (12000x9000 measured in BENCHMARKS.md, "Big pictures: --tile"). Kept under
# Pillow's decompression-bomb refusal (179 MP).
MAX_TILED_PICTURE_PIXELS = 150_000_000
# The same, read and written band by band (a JPEG, PNG or TIFF to a PNG): nothing
# picture-sized is held, so the bound is time, not memory: 1000 MP is about 27000 tiles of
# 256, over half an hour of one core at the 13 tiles a second measured in BENCHMARKS.md
# ("Big pictures: --tile"), hours with a heavier model.
MAX_STREAMED_PICTURE_PIXELS = 1_000_000_000
# A band of tiles: class probabilities across the picture's width, one tile high. Blending
# holds only the rows two tile rows share (a quarter of that) since the band went tile by
# tile; the bound is kept where it was, with room to spare.
MAX_BAND_BYTES = 1 << 29
# Each frame of a video or animation: DCI 4K. A dozen frames are in flight between decoding,
# the model, smoothing's look-ahead and the encoder; 4K peaked at 2.6-3.0 GB, 7000x7000 at 8 GB.
MAX_FRAME_PIXELS = 4096 * 2160
# The network's input: 2 MiP (1088x1920 fits) keeps the heaviest model near 2 GB on its own.
MAX_MODEL_PIXELS = 1 << 21
MAX_MODEL_SIDE = 4096  # a long thin picture's model input: long side capped, short side kept
MAX_SIZE = math.isqrt(MAX_MODEL_PIXELS)  # the largest inference short side a square can take


def megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.1f} MP"


def check_picture_size(width: int, height: int, what: str,
                       limit: int = MAX_PICTURE_PIXELS) -> None:
    """Refuses a picture (``what``: "image x.png", "video y.mp4") whose stated size cannot be
    a picture or is over ``limit`` pixels (:data:`MAX_FRAME_PIXELS` for a video's frames),
    before it is decoded."""
    if width <= 0 or height <= 0:
        raise InputError(f"cannot decode {what}: it states a size of {width}x{height} pixels, "
                         "not a picture (corrupt)")
    if width * height > limit:
        each = {MAX_FRAME_PIXELS: " for each frame of a video",
                MAX_TILED_PICTURE_PIXELS: " in tiles",
                MAX_STREAMED_PICTURE_PIXELS: " in tiles to a PNG"}.get(limit, "")
        raise InputError(f"{what} is {width}x{height} pixels ({megapixels(width * height)}); "
                         f"the largest accepted{each} is {megapixels(limit)} (memory budget "
                         f"{MEMORY_BUDGET_GB} GB): scale it down first")


def check_model_size(size: int) -> None:
    """Refuses an inference short side over :data:`MAX_SIZE` before a model loads."""
    if size > MAX_SIZE:
        raise InputError(f"inference size {size} is too large: at most {MAX_SIZE} (a "
                         f"{MAX_SIZE}x{MAX_SIZE} input is {megapixels(MAX_MODEL_PIXELS)}, the "
                         f"memory budget of {MEMORY_BUDGET_GB} GB)")


def bounded_scale(height: int, width: int, scale: float, max_side: int,
                  max_pixels: int) -> float:
    """``scale`` lowered so that ``height`` x ``width`` scaled by it has no side over
    ``max_side`` and no more than ``max_pixels`` pixels: both sides bound it, never one."""
    return min(scale, max_side / max(height, width), math.sqrt(max_pixels / (height * width)))


def check_tile_band(classes: int, tile: int, width: int, what: str) -> None:
    """Refuses a tiled run whose band of class probabilities (``classes`` x ``tile`` x
    ``width`` floats) would be over :data:`MAX_BAND_BYTES`, before the model runs."""
    need = classes * tile * width * 4
    if need > MAX_BAND_BYTES:
        raise InputError(f"{what} is {width} pixels wide: a band of {tile}-pixel tiles across "
                         f"it, {classes} classes, needs {need >> 20} MB, over the "
                         f"{MAX_BAND_BYTES >> 20} MB a band may take (memory budget "
                         f"{MEMORY_BUDGET_GB} GB): use a smaller --size or scale it down")
