"""Which pictures train and which are held back to validate: stable, stratified, seeded.

A dataset that arranges its own ``val`` split keeps it. Otherwise each picture is put in a
stratum by the rarest class it shows (defect-free pictures form their own), and each stratum
gives its share to validation in an order fixed by a hash of (seed, picture name): the same
seed gives the same split on any machine, in any listing order, and adding a picture does
not move the others.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

VAL_SPLITS = ("val", "valid", "validation")
TEST_SPLITS = ("test", "testing")  # kept for measuring: never trained or validated on


@dataclass(frozen=True)
class Split:
    """Indices into the sample list."""

    train: tuple[int, ...]
    val: tuple[int, ...]
    how: str  # "dataset" (the dataset's own val) or "80/20 seed N, stratified"


def _order_key(seed: int, name: str) -> str:
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def rarest_class(counts: np.ndarray, frequency: np.ndarray, background: int) -> int:
    """The class id a picture is filed under (``counts``: its pixels per class): its rarest
    non-background class, else -1."""
    present = [c for c in np.flatnonzero(counts) if c != background]
    return int(min(present, key=lambda c: frequency[c])) if present else -1


def split_samples(names: Sequence[str], splits: Sequence[str], strata: Sequence[int],
                  val_share: float, seed: int) -> Split:
    """Train/val indices: the dataset's own ``val`` pictures if it has any, else ``val_share``
    of each stratum (at least one picture per stratum that has two or more). Pictures of a
    ``test`` split are in neither."""
    usable = [i for i, s in enumerate(splits) if s.lower() not in TEST_SPLITS]
    own = [i for i in usable if splits[i].lower() in VAL_SPLITS]
    if own:
        val = set(own)
        return Split(tuple(i for i in usable if i not in val), tuple(own), "dataset")
    groups: dict[int, list[int]] = defaultdict(list)
    for i in usable:
        groups[strata[i]].append(i)
    val_set: set[int] = set()
    for members in groups.values():
        members.sort(key=lambda i: _order_key(seed, names[i]))
        take = round(len(members) * val_share)
        if len(members) >= 2:
            take = min(max(take, 1), len(members) - 1)
        val_set.update(members[:take])
    train = tuple(i for i in usable if i not in val_set)
    val = tuple(i for i in usable if i in val_set)
    share = round(100 * val_share)
    return Split(train, val, f"{100 - share}/{share} seed {seed}, stratified by rarest class")
