"""A PNG written band of rows by band of rows, never the whole picture in memory.

Why: a tiled still of hundreds of megapixels is finished a band of rows at a time; OpenCV's
encoder wants the whole picture (324 MB at 12000x9000, the largest thing a tiled run held).
PNG is a zlib stream of filtered scanlines in IDAT chunks, so rows can be filtered, deflated
and written as they come. The file appears under its name only when every row is written
(a hidden sibling renamed at the end); a failure or a stop leaves nothing.
"""

from __future__ import annotations

import struct
import zlib
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from livesegment.errors import OutputError, av_reason
from livesegment.io.paths import atomic_target

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type: grey, RGB, RGBA
# zlib level 1, as OpenCV's own PNG writer: a photo's PNG is deflated at ~60 MB/s on one core
# (level 6 is three times slower for ~5 % smaller files).
LEVEL = 1
IDAT_BYTES = 1 << 18  # deflated bytes gathered into one IDAT chunk (256 KiB)


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(data, zlib.crc32(kind)))


def filtered(rows: np.ndarray, previous: np.ndarray) -> bytes:
    """``rows`` (h x W*C uint8) as PNG scanlines with the Up filter (each byte less the one
    above it, modulo 256; ``previous`` is the row above the first, zeros at the top): one
    vectorised subtraction, and the smooth columns of a photo deflate well."""
    above = np.concatenate((previous[None], rows[:-1]))
    lines = np.empty((rows.shape[0], rows.shape[1] + 1), np.uint8)
    lines[:, 0] = 2  # filter type Up
    np.subtract(rows, above, out=lines[:, 1:])
    return lines.tobytes()


class PngRows:
    """``with PngRows(path, width, height, channels) as png: png.write(rows)`` for each band,
    top to bottom; rows are HxWxC uint8 in OpenCV's order (BGR, BGRA, or HxW grey). The file
    is complete and in place when the block ends without an error, and only if all ``height``
    rows came. ``what`` prefixes the file's name in errors ("mask ")."""

    def __init__(self, path: Path, width: int, height: int, channels: int = 3,
                 what: str = "") -> None:
        if channels not in COLOUR_TYPES:
            raise ValueError(f"a PNG of {channels} channels")
        self.path, self.width, self.height, self.channels = path, width, height, channels
        self.what = what
        self.written = 0
        self._stack = ExitStack()
        self._file = None
        self._deflate = zlib.compressobj(LEVEL)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._previous = np.zeros(width * channels, np.uint8)

    def __enter__(self) -> PngRows:
        try:
            tmp = self._stack.enter_context(atomic_target(self.path))
            self._file = self._stack.enter_context(open(tmp, "wb"))
            header = struct.pack(">IIBBBBB", self.width, self.height, 8,
                                 COLOUR_TYPES[self.channels], 0, 0, 0)
            self._file.write(PNG_SIGNATURE + chunk(b"IHDR", header))
        except OSError as exc:
            self._stack.close()
            raise self._failed(exc) from None
        return self

    def write(self, rows: np.ndarray) -> None:
        """Appends the next rows (their count is free; their width and channels are fixed)."""
        if rows.shape[1:] not in ((self.width, self.channels),) + (
                ((self.width,),) if self.channels == 1 else ()):
            raise ValueError(f"rows of shape {rows.shape} for a {self.width}-wide PNG of "
                             f"{self.channels} channels")
        if self.written + len(rows) > self.height:
            raise ValueError(f"more than the {self.height} rows of {self.path}")
        if self.channels >= 3:  # OpenCV's BGR(A) to PNG's RGB(A)
            rows = rows[:, :, [2, 1, 0, 3][:self.channels]]
        flat = np.ascontiguousarray(rows).reshape(len(rows), -1)
        self._pending.append(self._deflate.compress(filtered(flat, self._previous)))
        self._pending_bytes += len(self._pending[-1])
        self._previous = flat[-1].copy()
        self.written += len(rows)
        if self._pending_bytes >= IDAT_BYTES:
            self._flush()

    def _flush(self) -> None:
        try:
            self._file.write(chunk(b"IDAT", b"".join(self._pending)))
        except OSError as exc:
            raise self._failed(exc) from None
        self._pending, self._pending_bytes = [], 0

    def __exit__(self, kind, exc, tb) -> bool:
        """Finishes the file and renames it into place; on an error (or too few rows) the
        hidden file is removed and nothing is left."""
        if exc is None:
            try:
                self._finish()
            except BaseException as failure:
                self._stack.__exit__(type(failure), failure, failure.__traceback__)
                raise
        return bool(self._stack.__exit__(kind, exc, tb))

    def _finish(self) -> None:
        if self.written != self.height:
            raise OutputError(f"cannot write {self.what}{self.path}: {self.written} of its "
                              f"{self.height} rows came")
        self._pending.append(self._deflate.flush())
        self._flush()
        try:
            self._file.write(chunk(b"IEND", b""))
            self._file.flush()  # a full disk shows here, before the rename
        except OSError as exc:
            raise self._failed(exc) from None

    def _failed(self, exc: OSError) -> OutputError:
        return OutputError(f"cannot write {self.what}{self.path}: {av_reason(exc)}")

