"""Training augmentation as pure functions: (picture, labels, random draws) -> new pair.

Kept apart from reading (io/datasets) and from the loop, as MMSegmentation keeps its pipeline
steps: each step takes its random numbers from the caller's generator, so a step's pictures
depend on the run's seed and the step number only (what makes a resumed run bit-for-bit the
same). Pictures are HxWx3 uint8 BGR, labels HxW uint8 with ``IGNORE`` where nothing is learnt.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from livesegment.io.datasets.records import IGNORE


@dataclass(frozen=True)
class AugmentSettings:
    """How far each training crop may differ from the picture as the model will see it."""

    crop: int = 256                          # side of the square crop fed to the network
    scale: tuple[float, float] = (0.7, 1.4)  # zoom around the inference scale
    flips: bool = True
    turns: bool = True                       # 90-degree turns (textures, tiles, cells, scans)
    brightness: float = 0.15                 # +- share of the full range
    contrast: float = 0.2                    # +- relative change
    rare_crop: float = 0.6                   # share of crops centred on a rare-class pixel
    mean_fill: bool = False                  # beyond the picture: the model's mean colour


def rescale(image: np.ndarray, labels: np.ndarray, factor: float
            ) -> tuple[np.ndarray, np.ndarray]:
    """Both zoomed by ``factor``: area-averaged pixels when shrinking, nearest labels."""
    h, w = labels.shape
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    if size == (w, h):
        return image, labels
    inter = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    return (cv2.resize(image, size, interpolation=inter),
            cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST))


def crop_at(image: np.ndarray, labels: np.ndarray, centre: tuple[int, int], side: int,
            fill: tuple[float, float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A ``side`` x ``side`` window centred as near ``centre`` as the picture allows; where the
    picture is smaller, the rest is mirrored picture with ``IGNORE`` labels (never learnt)."""
    h, w = labels.shape
    top = _start(centre[0], side, h)
    left = _start(centre[1], side, w)
    img = image[max(top, 0): top + side, max(left, 0): left + side]
    lab = labels[max(top, 0): top + side, max(left, 0): left + side]
    pad_t, pad_l = max(-top, 0), max(-left, 0)
    pad_b, pad_r = side - pad_t - lab.shape[0], side - pad_l - lab.shape[1]
    if pad_t or pad_l or pad_b or pad_r:
        pads = (pad_t, pad_b, pad_l, pad_r)
        img = (cv2.copyMakeBorder(img, *pads, cv2.BORDER_REFLECT_101) if fill is None else
               cv2.copyMakeBorder(img, *pads, cv2.BORDER_CONSTANT, value=fill))
        lab = cv2.copyMakeBorder(lab, *pads, cv2.BORDER_CONSTANT, value=IGNORE)
    return img, lab


def _start(centre: int, side: int, length: int) -> int:
    """First index of a window of ``side`` around ``centre``, kept inside when it fits, else
    centred on the picture (padding shared by both ends)."""
    if length <= side:
        return -((side - length) // 2)
    return int(np.clip(centre - side // 2, 0, length - side))


def pick_centre(labels: np.ndarray, rng: np.random.Generator, rarity: np.ndarray,
                rare_share: float, jitter: int) -> tuple[int, int]:
    """Where to centre a crop: with probability ``rare_share`` on a pixel of a class drawn by
    ``rarity`` among the classes present (small defects stay in view), else anywhere."""
    h, w = labels.shape
    if rng.random() < rare_share:
        present = np.flatnonzero(np.bincount(labels.ravel(), minlength=256)[: len(rarity)])
        weights = rarity[present]
        if weights.sum() > 0:
            cls = rng.choice(present, p=weights / weights.sum())
            ys, xs = np.nonzero(labels == cls)
            i = rng.integers(len(ys))
            dy, dx = rng.integers(-jitter, jitter + 1, size=2) if jitter else (0, 0)
            return int(ys[i] + dy), int(xs[i] + dx)
    return int(rng.integers(h)), int(rng.integers(w))


def flip_turn(image: np.ndarray, labels: np.ndarray, flip: bool, turns: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Mirrored left-right when ``flip``, then turned ``turns`` quarter turns anticlockwise
    (with the flip, all eight symmetries of a square)."""
    if flip:
        image, labels = image[:, ::-1], labels[:, ::-1]
    if turns % 4:
        image, labels = np.rot90(image, turns), np.rot90(labels, turns)
    return np.ascontiguousarray(image), np.ascontiguousarray(labels)


def adjust_light(image: np.ndarray, brightness: float, contrast: float) -> np.ndarray:
    """``(v - mean) * (1 + contrast) + mean + brightness * 255``, clipped to uint8."""
    x = image.astype(np.float32)
    mean = float(x.mean())
    x = (x - mean) * (1.0 + contrast) + mean + brightness * 255.0
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def augment(image: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
            settings: AugmentSettings, base_scale: float, rarity: np.ndarray,
            fill: tuple[float, float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One training crop: zoom about the inference scale, centre (rare classes first), crop,
    flip/turn, light. Every draw comes from ``rng``, in a fixed order."""
    lo, hi = settings.scale
    factor = base_scale * float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    image, labels = rescale(image, labels, factor)
    centre = pick_centre(labels, rng, rarity, settings.rare_crop, settings.crop // 4)
    image, labels = crop_at(image, labels, centre, settings.crop,
                            fill if settings.mean_fill else None)
    flip = settings.flips and bool(rng.integers(2))
    turns = int(rng.integers(4)) if settings.turns else 0
    image, labels = flip_turn(image, labels, flip, turns)
    brightness = rng.uniform(-settings.brightness, settings.brightness)
    contrast = rng.uniform(-settings.contrast, settings.contrast)
    return adjust_light(image, brightness, contrast), labels
