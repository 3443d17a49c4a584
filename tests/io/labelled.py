"""Tiny labelled files for the dataset reader's tests: pictures, masks, masks drawn as text."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

H, W = 4, 6


def picture(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (H, W, 3), dtype=np.uint8)


def write_picture(path: Path, bgr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), bgr)


def write_mask(path: Path, values: np.ndarray, mode: str = "L",
               palette: np.ndarray | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(values.astype(np.uint8), "RGB" if values.ndim == 3 else "L")
    if mode == "P":
        image = image.convert("P")
        image.putdata(values.ravel().tolist())
        flat = np.zeros((256, 3), np.uint8)
        flat[: len(palette)] = palette
        image.putpalette(flat.ravel().tolist())
    image.save(path)


def ids(*rows: str) -> np.ndarray:
    """Masks drawn as text: one character per pixel, '.' = 0, digits, 'x' = 255."""
    table = {".": 0, "x": 255}
    return np.array([[table[c] if c in table else int(c) for c in row] for row in rows],
                    np.uint8)
