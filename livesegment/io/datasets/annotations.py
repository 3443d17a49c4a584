"""What one picture's annotation is on disk, and how to turn it into codes (see values.py).

Two kinds cover every format: a mask file (VOC/CVAT/plain folders: grey values, palette indices
or RGB colours) and a list of shapes painted in file order (COCO, YOLO-seg, LabelMe), later
shapes over earlier ones as labelme2voc does. Polygons are rasterised by pycocotools, COCO's
own reference: coordinates are continuous, pixel (x, y) covering [x, x+1) x [y, y+1), so a
polygon's pixels do not depend on which tool drew it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livesegment.core.budget import check_picture_size
from livesegment.errors import InputError, first_line
from livesegment.io.datasets.values import RGB, VOID_RGB, pack_rgb, rgb_codes
from livesegment.io.images import open_pillow


@dataclass(frozen=True)
class MaskFile:
    """A mask picture. With a ``colours`` table (CVAT, VOC) its RGB colours are read; else its
    grey values / palette indices."""

    path: Path
    colours: tuple[RGB, ...] | None = None

    @property
    def source(self) -> Path:
        return self.path

    def codes(self, height: int, width: int) -> np.ndarray:  # noqa: ARG002 - its own size
        return read_mask_codes(self.path, self.colours)


def read_mask_codes(path: Path, colours: tuple[RGB, ...] | None = None) -> np.ndarray:
    """A mask file's pixel codes: palette indices or grey values (uint8/uint16), or packed RGB
    colours (int32) where the dataset has a ``colours`` table. A grey picture saved as RGB is
    read as grey; a colour one without a colour table is an error (its colours would
    otherwise become arbitrary ids)."""
    try:
        with open_pillow(path, f"mask {path}") as image:
            check_picture_size(*image.size, f"mask {path}")
            image.load()
            mode = image.mode
            if colours is not None and mode in ("L", "I", "I;16"):
                return grey_as_colour_codes(np.asarray(image), colours)
            if colours is not None:
                return rgb_codes(np.asarray(image.convert("RGB")))
            if mode in ("RGB", "RGBA"):
                rgb = np.asarray(image.convert("RGB"))
                if not (np.array_equal(rgb[..., 0], rgb[..., 1])
                        and np.array_equal(rgb[..., 1], rgb[..., 2])):
                    raise InputError(f"mask {path} is in colour but the dataset has no "
                                     "labelmap.txt naming its colours (one 'name:R,G,B' "
                                     "per line)")
                return np.ascontiguousarray(rgb[..., 0])
            if mode in ("LA", "PA"):
                image = image.getchannel(0)
            values = np.asarray(image)
    except InputError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"cannot read mask {path}: {first_line(exc)}") from None
    if values.dtype == np.bool_:
        return values.astype(np.uint8)
    if values.dtype.kind in "iu" and values.dtype.itemsize > 1:
        if values.min() < 0 or values.max() > 65535:
            raise InputError(f"mask {path} holds values outside 0..65535")
        return values.astype(np.uint16)
    if values.dtype != np.uint8:
        raise InputError(f"mask {path} has {values.dtype} pixels; give integer class ids")
    return values


def grey_as_colour_codes(values: np.ndarray, colours: tuple[RGB, ...]) -> np.ndarray:
    """A one-channel mask in a colour dataset holds class indices (CVAT allows either): each
    becomes its class's colour code, 255 VOC's void colour, any other a negative code that
    the value map reports as an index past the table."""
    top = max(int(values.max()), 255) + 1
    table = np.array([-(v + 1) for v in range(top)], np.int32)
    for index, rgb in enumerate(colours):
        table[index] = pack_rgb(rgb)
    table[255] = pack_rgb(VOID_RGB)
    return table[values]


@dataclass(frozen=True)
class Polygon:
    """Parts of one region of one class, each ``(x0, y0, x1, y1, ...)`` in pixels."""

    class_id: int
    parts: tuple[tuple[float, ...], ...]


@dataclass(frozen=True, eq=False)
class Rle:
    """A COCO run-length mask (compressed string or uncompressed counts) of one class."""

    class_id: int
    rle: dict


@dataclass(frozen=True, eq=False)
class Patch:
    """A bitmap covering part of the picture from (``left``, ``top``): LabelMe's mask shapes."""

    class_id: int
    left: int
    top: int
    mask: np.ndarray  # bool


Shape = Polygon | Rle | Patch


@dataclass(frozen=True)
class Shapes:
    """Vector annotations of one picture, painted over background (class 0) in order."""

    source: Path
    shapes: tuple[Shape, ...]
    normalised: bool = False  # polygon coordinates are 0..1 of the picture's sides (YOLO)

    def codes(self, height: int, width: int) -> np.ndarray:
        canvas = np.zeros((height, width), np.uint8)
        for shape in self.shapes:
            if self.normalised and isinstance(shape, Polygon):
                shape = scaled(shape, width, height)
            covered = shape_mask(shape, height, width)
            if covered.shape != canvas.shape:
                raise InputError(f"{self.source}: a mask of {covered.shape[1]}x"
                                 f"{covered.shape[0]} for a {width}x{height} picture")
            canvas[covered] = shape.class_id
        return canvas


def scaled(polygon: Polygon, width: int, height: int) -> Polygon:
    scale = np.array([width, height], np.float64)
    parts = tuple(tuple((np.asarray(p).reshape(-1, 2) * scale).ravel().tolist())
                  for p in polygon.parts)
    return Polygon(polygon.class_id, parts)


def shape_mask(shape: Shape, height: int, width: int) -> np.ndarray:
    """HxW bool: the pixels one shape covers."""
    from pycocotools import mask as coco_mask

    if isinstance(shape, Patch):
        out = np.zeros((height, width), bool)
        top, left = max(shape.top, 0), max(shape.left, 0)
        bottom = min(shape.top + shape.mask.shape[0], height)
        right = min(shape.left + shape.mask.shape[1], width)
        if bottom > top and right > left:
            out[top:bottom, left:right] = shape.mask[top - shape.top: bottom - shape.top,
                                                     left - shape.left: right - shape.left]
        return out
    if isinstance(shape, Polygon):
        parts = [list(p) for p in shape.parts if len(p) >= 6]
        if not parts:
            return np.zeros((height, width), bool)
        rle = coco_mask.merge(coco_mask.frPyObjects(parts, height, width))
    elif isinstance(shape.rle.get("counts"), list):  # uncompressed: pycocotools encodes it
        rle = coco_mask.frPyObjects(shape.rle, height, width)
    else:
        rle = dict(shape.rle)
        if isinstance(rle["counts"], str):
            rle["counts"] = rle["counts"].encode("ascii")
    with warnings.catch_warnings():  # pycocotools 2.0 on numpy 2: a harmless copy= warning
        warnings.simplefilter("ignore", DeprecationWarning)
        return coco_mask.decode(rle).astype(bool)


def decode_png_patch(data: bytes, source: Path) -> np.ndarray:
    """A small embedded PNG (LabelMe mask shape) -> HxW bool."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("L")) > 0
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"{source}: cannot decode an embedded mask: {first_line(exc)}") from None
