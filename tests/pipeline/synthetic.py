"""A tiny labelled task: coloured squares and discs on noise, learnable in seconds."""

from __future__ import annotations

import cv2
import numpy as np

from livesegment.io.datasets.records import Sample

CLASSES = ("background", "square", "disc")


def synthetic_sample(index: int, seed: int = 0, side: int = 64) -> Sample:
    """Noise with a red square (class 1) and a green disc (class 2), each maybe absent."""
    rng = np.random.default_rng([seed, index])
    image = rng.integers(60, 196, (side, side, 3), dtype=np.uint8)
    labels = np.zeros((side, side), np.uint8)
    if index % 4 != 3:
        s = int(rng.integers(side * 3 // 8, side // 2))
        y, x = rng.integers(0, side - s, size=2)
        image[y:y + s, x:x + s] = (40, 40, 230)
        labels[y:y + s, x:x + s] = 1
    if index % 4 != 2:
        r = int(rng.integers(side // 6, side // 4))
        cy, cx = (int(v) for v in rng.integers(r, side - r, size=2))
        disc = np.zeros_like(labels)
        cv2.circle(disc, (cx, cy), r, 1, -1)
        image[disc == 1] = (40, 220, 40)
        labels[disc == 1] = 2
    return Sample(f"pic{index:03d}.png", image, labels, CLASSES)


def synthetic_set(count: int, seed: int = 0, side: int = 64) -> list[Sample]:
    return [synthetic_sample(i, seed, side) for i in range(count)]


def write_dataset(folder, count: int, seed: int = 0, side: int = 64):
    """The synthetic pictures as a user's image + mask folder, with a classes.txt."""
    from pathlib import Path

    folder = Path(folder)
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    (folder / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    for sample in synthetic_set(count, seed, side):
        stem = Path(sample.name).stem
        cv2.imwrite(str(folder / "images" / f"{stem}.png"), sample.image)
        cv2.imwrite(str(folder / "masks" / f"{stem}.png"), sample.labels)
    return folder
