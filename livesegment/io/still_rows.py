"""A still's rows decoded top to bottom as they are asked for, never the whole picture.

Why: a tiled run needs a band of rows at a time (the rows of one row of tiles), and a
12000x9000 photo decoded whole is 324 MB held for minutes of tiles; 24000x18000, four times
that. libvips (through pyvips) decodes JPEG, PNG and TIFF sequentially, keeping only the rows
in flight. Its pixels are OpenCV's own for these formats (the same libjpeg-turbo decode),
so the labels are those of the whole-picture path; ``tests/io/test_still_rows.py`` holds
the two to the same pixels.

Pictures this cannot read in rows give ``None`` from :meth:`StillRows.open` and go the
whole-picture way (:func:`livesegment.io.images.read_image`): an EXIF turn (rotating needs
the whole picture), CMYK or float pixels, other formats, or no pyvips installed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from livesegment.core.budget import check_picture_size
from livesegment.errors import InputError
from livesegment.io.images import as_bgr8

# libvips loaders that decode in rows from a file descriptor.
ROW_LOADERS = {"jpegload_source", "pngload_source", "tiffload_source"}
ROW_FORMATS = {"uchar": np.uint8, "ushort": np.uint16}
ROW_INTERPRETATIONS = {"srgb", "rgb16", "b-w", "grey16", "multiband"}


class StillRows:
    """The rows of one still, read with non-decreasing tops: :meth:`read` keeps the rows
    from the last top asked on (the overlap the next row of tiles shares) and decodes only
    the ones below them. A file found corrupt or cut short part-way is an
    :class:`InputError` naming it, from the read that reaches the damage."""

    def __init__(self, path: Path, image) -> None:
        import pyvips

        self.path = path
        self.width, self.height, self.bands = image.width, image.height, image.bands
        self._dtype = ROW_FORMATS[image.format]
        self._region = pyvips.Region.new(image)
        self._image = image
        self._top = 0
        self._rows = np.empty((0, self.width, 3), np.uint8)

    @classmethod
    def open(cls, path: Path, limit: int) -> StillRows | None:
        """The still at ``path`` ready to be read in rows, its stated size checked against
        ``limit`` pixels; ``None`` when it must be decoded whole instead (module docstring)."""
        image = _sequential(path)
        if image is None or not _rows_in_order(image):
            return None
        check_picture_size(image.width, image.height, f"image {path}", limit)
        return cls(path, image)

    def read(self, top: int, bottom: int) -> np.ndarray:
        """Rows [top, bottom) as (bottom - top) x W x 3 uint8 BGR, as :func:`read_image`
        would give them. ``top`` never goes back past an earlier call's."""
        if top < self._top:
            raise ValueError(f"rows of {self.path} are read top to bottom ({top} < {self._top})")
        end = self._top + len(self._rows)
        kept = self._rows[top - self._top:]
        start = max(end, top)
        self._skip(end, start)
        fresh = self._decode(start, min(bottom, self.height))
        self._rows = np.concatenate((kept, fresh)) if len(kept) else fresh
        self._top = top
        return self._rows[:bottom - top]

    def _skip(self, start: int, stop: int) -> None:
        """Decodes and drops rows no one asked for (a sequential decoder cannot jump)."""
        step = max(1, (1 << 24) // (self.width * self.bands))
        for y in range(start, stop, step):
            self._decode(y, min(stop, y + step))

    def _decode(self, start: int, stop: int) -> np.ndarray:
        import pyvips

        if stop <= start:
            return np.empty((0, self.width, 3), np.uint8)
        try:
            data = self._region.fetch(0, start, self.width, stop - start)
        except pyvips.Error:
            raise InputError(f"cannot decode image {self.path}: corrupt or cut short (rows "
                             f"{start}-{stop - 1} of {self.height} are unreadable)") from None
        rows = np.frombuffer(data, self._dtype).reshape(stop - start, self.width, self.bands)
        if self.bands >= 3:  # libvips' RGB(A) to OpenCV's BGR(A)
            rows = rows[:, :, [2, 1, 0, 3][:self.bands]]
        return as_bgr8(rows)

    def close(self) -> None:
        """Lets the decoder and its file go (also when the rows were not all read)."""
        self._region = self._image = None
        self._rows = np.empty((0, self.width, 3), np.uint8)

    def __enter__(self) -> StillRows:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _sequential(path: Path):
    """libvips' sequential reader of ``path`` (JPEG, PNG, TIFF), failing on a cut-short
    file rather than filling it with grey; ``None`` without pyvips or for anything it does
    not open. Opened from a descriptor, so that no name (``[`` in it, not UTF-8) is parsed."""
    try:
        import pyvips
    except (ImportError, OSError):  # no pyvips, or no libvips for it
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    try:
        source = pyvips.Source.new_from_descriptor(fd)
        return pyvips.Image.new_from_source(source, "", access="sequential",
                                            fail_on="truncated")
    except pyvips.Error:
        return None
    finally:
        os.close(fd)


def _rows_in_order(image) -> bool:
    """Whether libvips gives this picture's rows top to bottom as OpenCV would decode them:
    a row-wise loader, 8/16-bit grey or RGB(A), one page, not turned by EXIF."""
    def field(name: str, default):
        return image.get(name) if image.get_typeof(name) else default

    return (field("vips-loader", "") in ROW_LOADERS and image.format in ROW_FORMATS
            and 1 <= image.bands <= 4 and image.interpretation in ROW_INTERPRETATIONS
            and field("orientation", 1) == 1 and field("n-pages", 1) == 1)
