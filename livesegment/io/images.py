"""Still pictures in and out, whatever their depth or channel count."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from livesegment.core.frames import Frame
from livesegment.errors import InputError, OutputError, av_reason
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


def exif_orientation(data: bytes) -> int:
    """The EXIF orientation (1-8) of an encoded still, 1 when it states none. Pillow reads it
    from JPEG, PNG (eXIf) and WebP alike; OpenCV's ``IMREAD_UNCHANGED`` ignores it."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            value = image.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a picture Pillow cannot parse has no orientation for us
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def upright(picture: np.ndarray, orientation: int) -> np.ndarray:
    """The stored pixels turned as EXIF ``orientation`` says viewers show them."""
    if orientation in (5, 6, 7, 8):
        picture = cv2.transpose(picture)
    flips = {2: 1, 3: -1, 4: 0, 6: 1, 7: -1, 8: 0}  # cv2.flip codes after the transpose
    return cv2.flip(picture, flips[orientation]) if orientation in flips else picture


def animated_frames(path: Path) -> int:
    """How many pictures an animated PNG (APNG) or WebP holds; 1 for a still. Read from the
    header chunks (acTL / ANIM), as OpenCV would silently decode only the first picture."""
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return 1
    if head.startswith(b"\x89PNG"):
        at = head.find(b"acTL", 8, head.find(b"IDAT") if b"IDAT" in head else None)
        return max(1, int.from_bytes(head[at + 4:at + 8], "big")) if at > 0 else 1
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and b"ANIM" in head[12:64]:
        return max(2, head.count(b"ANMF"))
    return 1


def read_image(path: Path) -> np.ndarray:
    """Decodes a still from disk, upright as viewers show it (EXIF orientation applied); a
    file that is not a picture is an :class:`InputError`."""
    data = np.fromfile(path, np.uint8)
    picture = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if picture is None:
        raise InputError(f"cannot decode image {path}: not a supported picture or corrupt")
    return as_bgr8(upright(picture, exif_orientation(data.tobytes())))


def write_image(path: Path, bgr: np.ndarray, what: str = "") -> None:
    """Encodes by the file's suffix and swaps it into place only once fully written; a write
    that fails (full disk) leaves nothing behind and says which file (``what``: "mask " ...)."""
    ok, encoded = cv2.imencode(path.suffix.lower(), bgr)
    if not ok:
        raise OutputError(f"cannot encode {what or 'an image as ' + path.suffix + ' for '}"
                          f"{path}")
    try:
        with atomic_target(path) as tmp:
            _write_all(tmp, encoded)  # the encoder's buffer as it is: no second copy
    except OSError as exc:
        raise OutputError(f"cannot write {what}{path}: {av_reason(exc)}") from None


def _write_all(path: Path, data: bytes | np.ndarray) -> None:
    """Writes every byte and flushes, so a short write (full disk) raises here instead of
    leaving a truncated file reported as written. Paths are bytes-safe (names not UTF-8)."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()  # on a local disk the flush shows EFBIG/ENOSPC; close() would on NFS
    if path.stat().st_size != memoryview(data).nbytes:
        raise OSError(28, os.strerror(28), str(path))


MASK_NAME = re.compile(r"^\d{6}\.png$")


def check_mask_folder(folder: Path, inputs: tuple[Path, ...] = (),
                      overwrite: bool = False) -> None:
    """Refuses a mask folder where we would destroy what we did not write: one holding an input
    under a mask's name (``--masks .`` beside ``000000.png``), or, unless ``overwrite``, any
    non-empty folder (the masks of another run, or the user's files)."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"mask folder {folder} exists and is not a folder")
    if not folder.is_dir():
        return
    entries = list(folder.iterdir())
    for source in inputs:
        if source.exists() and source.resolve().parent == folder.resolve() and \
                MASK_NAME.match(source.name):
            raise OutputError(f"mask folder {folder} holds the input {source.name}, which a "
                              "mask would replace; choose another --masks folder")
    if entries and not overwrite:
        raise OutputError(f"mask folder {folder} is not empty ({len(entries)} entries); choose "
                          "an empty or new folder, or add --overwrite to replace its masks")


class MaskSink:
    """One uint8 PNG of class ids per frame, ``000000.png`` upwards, at source resolution.

    Each mask is written whole (checked, then renamed into place), and :meth:`close` removes
    masks numbered past this run's last, left by a longer earlier run into the same folder.
    """

    def __init__(self, folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create mask folder {folder}: {exc.strerror}") from None
        self.folder = folder
        self.written = 0
        self.last_index = -1

    def write(self, index: int, labels: np.ndarray) -> None:
        write_image(self.folder / f"{index:06d}.png", labels, what="mask ")
        self.written += 1
        self.last_index = max(self.last_index, index)

    def close(self) -> int:
        """Removes stale masks beyond this run's last frame; returns how many went."""
        removed = 0
        for entry in self.folder.iterdir():
            if MASK_NAME.match(entry.name) and int(entry.name[:6]) > self.last_index:
                entry.unlink(missing_ok=True)
                removed += 1
        return removed


class AnimatedPictureSource:
    """The frames of an animated WebP, through Pillow (this FFmpeg has no animated-WebP
    decoder), with each frame's own display time. Quacks like a silent ``VideoFileSource``."""

    time_base = Fraction(1, 1000)  # WebP frame durations are whole milliseconds
    has_audio = False
    audio_streams: list = []
    sample_aspect = None
    lead_s = origin_s = 0.0
    lost_frames = null_frames = 0
    truncated = False
    dropped: list[str] = []

    def __init__(self, path: Path) -> None:
        from PIL import Image

        self.path = path
        try:
            self._image = Image.open(path)
            self.count = getattr(self._image, "n_frames", 1)
            self._image.seek(0)
        except Exception as exc:  # noqa: BLE001 - any Pillow failure is a bad input
            raise InputError(f"cannot decode animated picture {path}: {exc}") from None
        self.width, self.height = self._image.size
        durations = []
        for i in range(self.count):
            self._image.seek(i)
            self._image.load()  # Pillow states a WebP frame's duration once it is decoded
            durations.append(max(1, int(self._image.info.get("duration", 100) or 100)))
        self._durations = durations
        self.duration_s = sum(durations) / 1000
        self.rate_hint = Fraction(1000, round(sum(durations) / len(durations)))

    def frames(self) -> Iterator[Frame]:
        t_ms = 0
        for i, duration in enumerate(self._durations):
            self._image.seek(i)
            rgb = np.asarray(self._image.convert("RGB"))
            yield Frame(i, t_ms / 1000, np.ascontiguousarray(rgb[:, :, ::-1]))
            t_ms += duration

    def close(self) -> None:
        self._image.close()
