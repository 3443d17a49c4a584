"""The data a dataset reader hands on: one frozen record per labelled picture.

Reading is kept apart from transforms (augmentation belongs to training) and from evaluation
(core/metrics.py): a reader only turns files into ``Sample`` records with exact labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

IGNORE = 255  # label of pixels no figure counts and no loss learns from


@dataclass(frozen=True, eq=False)
class Sample:
    """One labelled picture.

    ``image`` is HxWx3 uint8 BGR, upright as viewers show it; ``labels`` is HxW uint8 class ids
    (index into ``classes``), ``IGNORE`` where the dataset says "don't count this pixel".
    """

    name: str            # unique in its dataset: the image's path below the dataset folder
    image: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    split: str = ""      # "train", "val", ... as the dataset arranges it; "" when it does not
    path: Path | None = None  # the image file (None for a picture embedded in a LabelMe JSON)
