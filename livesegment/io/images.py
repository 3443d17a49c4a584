"""Still pictures in and out, whatever their depth or channel count."""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from livesegment.core.budget import (MAX_FRAME_PIXELS, MAX_PICTURE_PIXELS, MEMORY_BUDGET_GB,
                                     check_picture_size, megapixels)
from livesegment.core.frames import Frame
from livesegment.errors import InputError, OutputError, av_reason
from livesegment.io.paths import atomic_target
from livesegment.io.png_rows import PngRows

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


@dataclass(frozen=True)
class StillHeader:
    """What an encoded still states about itself, read without decoding its pixels."""

    width: int
    height: int
    orientation: int = 1  # EXIF (1-8): how viewers turn the stored pixels


def open_pillow(source, what: str, limit: int = MAX_PICTURE_PIXELS):
    """Pillow's lazy open (the header only), its decompression-bomb refusal (over 179 MP)
    turned into our one line and its warning (over 89 MP) left to our own size check."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(source)
    except Image.DecompressionBombError:
        raise InputError(f"{what} states a size over {megapixels(2 * Image.MAX_IMAGE_PIXELS)}; "
                         f"the largest accepted is {megapixels(limit)} (memory budget "
                         f"{MEMORY_BUDGET_GB} GB)") from None


def read_header(data: bytes, what: str, limit: int = MAX_PICTURE_PIXELS) -> StillHeader | None:
    """The header of an encoded still through Pillow, which parses it without decoding (JPEG,
    PNG, WebP, TIFF, BMP); ``None`` when Pillow cannot parse it. A size over the memory budget
    is refused here, before any decoder allocates it (OpenCV's own limit is 2^30 pixels: 3 GB
    for one picture, and an assertion traceback beyond)."""
    try:
        with open_pillow(io.BytesIO(data), what, limit) as image:
            width, height = image.size
            check_picture_size(width, height, what, limit)
            orientation = _orientation(image)
    except InputError:
        raise
    except Exception:  # noqa: BLE001 - not parsable by Pillow: OpenCV may still decode it
        return None
    return StillHeader(width, height, orientation)


def _orientation(image) -> int:
    """The EXIF orientation of a Pillow picture opened lazily, 1 when it states none. A PNG
    whose eXIf chunk is not ahead of its pixels has none: Pillow would decode every pixel to
    look for one after them (the whole picture, twice over with OpenCV's decode)."""
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - unreadable EXIF: shown as stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def upright(picture: np.ndarray, orientation: int) -> np.ndarray:
    """The stored pixels turned as EXIF ``orientation`` says viewers show them."""
    if orientation in (5, 6, 7, 8):
        picture = cv2.transpose(picture)
    flips = {2: 1, 3: -1, 4: 0, 6: 1, 7: -1, 8: 0}  # cv2.flip codes after the transpose
    return cv2.flip(picture, flips[orientation]) if orientation in flips else picture


TIFF_MAGIC = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")  # classic and BigTIFF, both byte orders
# Pictures of several frames read through Pillow: this FFmpeg has no animated-WebP decoder and
# reads a TIFF's first page only.
TIFF_SUFFIXES = {".tif", ".tiff"}
PAGED_SUFFIXES = {".webp"} | TIFF_SUFFIXES


def animated_frames(path: Path) -> int:
    """How many pictures an animated PNG (APNG) or WebP, or pages a TIFF, holds; 1 for a
    still. Read from the header chunks (acTL / ANIM) or the TIFF's directory chain, as OpenCV
    would silently decode only the first picture."""
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
    if head[:4] in TIFF_MAGIC:
        return tiff_pages(path)
    return 1


def tiff_pages(path: Path) -> int:
    """The pages of a TIFF (its image directories, walked without decoding); 1 when Pillow
    cannot walk them (reading the file then says what is wrong)."""
    try:
        with open_pillow(path, f"picture {path}") as image:
            return max(1, int(getattr(image, "n_frames", 1)))
    except Exception:  # noqa: BLE001 - any parse failure: decoding reports it with the name
        return 1


def read_image(path: Path, what: str = "image", limit: int = MAX_PICTURE_PIXELS) -> np.ndarray:
    """Decodes a still from disk, upright as viewers show it (EXIF orientation applied); a
    file that is not a picture, or states a size over the memory budget (``limit`` pixels),
    is an :class:`InputError` naming it as ``what`` ("background"). A multi-page TIFF gives
    its first page (``AnimatedPictureSource`` reads them all)."""
    verb = "decode" if what == "image" else "read"  # "cannot read background ...", as before
    return decode_image(np.fromfile(path, np.uint8), f"{what} {path}", verb, limit)


def decode_image(data: np.ndarray | bytes, what: str, verb: str = "decode",
                 limit: int = MAX_PICTURE_PIXELS) -> np.ndarray:
    """An encoded still (a file's bytes, or a picture embedded in an annotation) as upright
    HxWx3 uint8 BGR, with :func:`read_image`'s checks; ``what`` names it in errors."""
    data = np.frombuffer(data, np.uint8) if isinstance(data, bytes) else data
    corrupt = InputError(f"cannot {verb} {what}: not a supported picture or corrupt")
    if not data.size:
        raise corrupt
    header = read_header(data.tobytes(), what, limit)
    try:
        picture = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error:  # a decoder's own limit or assertion (a header bomb Pillow missed)
        raise corrupt from None
    if picture is None:
        raise corrupt
    if header is None:  # decoded by OpenCV alone: the size is known only now
        check_picture_size(picture.shape[1], picture.shape[0], what, limit)
    return as_bgr8(upright(picture, header.orientation if header else 1))


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
        self._count(index)

    def rows(self, index: int, width: int, height: int, channels: int) -> PngRows:
        """Mask ``index`` written band by band (a big tiled still's): a writer to fill."""
        self._count(index)
        return PngRows(self.folder / f"{index:06d}.png", width, height, channels, what="mask ")

    def _count(self, index: int) -> None:
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


def page_bgr(image) -> np.ndarray:
    """A Pillow picture as HxWx3 uint8 BGR; 16-bit grey keeps its brightness as
    :func:`read_image` does (Pillow's own conversion to RGB would clip it)."""
    if image.mode.startswith("I;16"):
        return as_bgr8(np.asarray(image).astype(np.uint16))
    rgb = np.asarray(image.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])


class AnimatedPictureSource:
    """The frames of an animated WebP, with each frame's own display time, or the pages of a
    multi-page TIFF (a tenth of a second each), through Pillow. Quacks like a silent
    ``VideoFileSource``. Every page's stated size is checked against the memory budget before
    it is decoded; pages of another size than the first (a thumbnail) are left out, and
    ``notes`` says which."""

    time_base = Fraction(1, 1000)  # WebP frame durations are whole milliseconds
    has_audio = False
    audio_streams: list = []
    sample_aspect = None
    lead_s = origin_s = 0.0
    lost_frames = null_frames = 0
    truncated = False
    dropped: list[str] = []

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._image = open_pillow(path, f"picture {path}", MAX_FRAME_PIXELS)
            total = getattr(self._image, "n_frames", 1)
            self._image.seek(0)
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - any Pillow failure is a bad input
            raise InputError(f"cannot decode animated picture {path}: {exc}") from None
        self.width, self.height = self._image.size
        try:
            check_picture_size(self.width, self.height, f"picture {path}", MAX_FRAME_PIXELS)
            self._kept, self._durations, other = self._scan(total)
        except BaseException:
            self._image.close()
            raise
        self.count = len(self._kept)
        self.notes = [f"left out {len(other)} of {total} pages of {path}, whose size is not "
                      f"the first page's {self.width}x{self.height}: pages "
                      f"{', '.join(map(str, other))}"] if other else []
        self.duration_s = sum(self._durations) / 1000
        self.rate_hint = Fraction(1000, round(self.duration_s * 1000 / self.count))

    def _scan(self, total: int) -> tuple[list[int], list[int], list[int]]:
        """The pages kept, their durations (ms) and the 1-based pages left out."""
        kept, durations, other = [], [], []
        for i in range(total):
            try:
                self._image.seek(i)
                if self._image.size != (self.width, self.height):
                    other.append(i + 1)
                    continue
                if self._image.format == "WEBP":
                    self._image.load()  # Pillow states a WebP frame's duration once decoded
            except Exception as exc:  # noqa: BLE001 - a damaged page is a bad input
                raise InputError(f"cannot decode picture {self.path}: page {i + 1}: "
                                 f"{exc}") from None
            kept.append(i)
            durations.append(max(1, int(self._image.info.get("duration", 100) or 100)))
        return kept, durations, other

    def frames(self) -> Iterator[Frame]:
        t_ms = 0
        for index, (page, duration) in enumerate(zip(self._kept, self._durations)):
            try:
                self._image.seek(page)
                bgr = page_bgr(self._image)
            except Exception as exc:  # noqa: BLE001 - a damaged page is a bad input
                raise InputError(f"cannot decode picture {self.path}: page {page + 1}: "
                                 f"{exc}") from None
            yield Frame(index, t_ms / 1000, bgr)
            t_ms += duration

    def close(self) -> None:
        self._image.close()
