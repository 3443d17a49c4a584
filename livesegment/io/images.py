"""Still pictures in and out, whatever their depth or channel count."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from livesegment.errors import InputError, OutputError
from livesegment.io.paths import atomic_target

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


def as_bgr8(picture: np.ndarray) -> np.ndarray:
    """Any decoded still (grey, grey+alpha, BGR, BGRA; 8/16-bit or float) -> HxWx3 uint8 BGR."""
    if picture.dtype == np.uint16:
        picture = (picture >> 8).astype(np.uint8)
    elif picture.dtype.kind == "f":
        picture = (np.clip(picture, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif picture.dtype != np.uint8:
        raise InputError(f"unsupported pixel type {picture.dtype}")
    if picture.ndim == 2:
        return cv2.cvtColor(picture, cv2.COLOR_GRAY2BGR)
    channels = picture.shape[2]
    if channels == 1:
        return cv2.cvtColor(picture[:, :, 0], cv2.COLOR_GRAY2BGR)
    if channels == 2:
        return cv2.cvtColor(picture[:, :, 0], cv2.COLOR_GRAY2BGR)
    if channels == 4:
        return cv2.cvtColor(picture, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(picture)


def read_image(path: Path) -> np.ndarray:
    """Decodes a still from disk; a file that is not a picture is an :class:`InputError`."""
    data = np.fromfile(str(path), np.uint8)
    picture = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if picture is None:
        raise InputError(f"cannot decode image {path}: not a supported picture or corrupt")
    return as_bgr8(picture)


def write_image(path: Path, bgr: np.ndarray) -> None:
    """Encodes by the file's suffix and swaps it into place only once fully written."""
    ok, encoded = cv2.imencode(path.suffix.lower(), bgr)
    if not ok:
        raise OutputError(f"cannot encode an image as {path.suffix} for {path}")
    with atomic_target(path) as tmp:
        tmp.write_bytes(encoded.tobytes())


class MaskSink:
    """One uint8 PNG of class ids per frame, ``000000.png`` upwards, at source resolution."""

    def __init__(self, folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create mask folder {folder}: {exc.strerror}") from None
        self.folder = folder
        self.written = 0

    def write(self, index: int, labels: np.ndarray) -> None:
        if not cv2.imwrite(str(self.folder / f"{index:06d}.png"), labels):
            raise OutputError(f"cannot write mask {self.folder / f'{index:06d}.png'}")
        self.written += 1
