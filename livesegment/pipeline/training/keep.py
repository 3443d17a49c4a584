"""Keeping the base model's classes beside the user's (``train --keep-classes``).

A plain fine-tune replaces the base's classes with the user's: the result finds scratches but
no longer people. Keeping them, the run trains that same plain fine-tune, and its model file
holds it beside the base, which runs frozen and whole (core/models/kept.py): the user's class
wherever the fine-tune finds one, the base's own label everywhere else. The result's classes
are the base's, then the user's new ones.

One network taught to do both (the base's labels and soft targets as its targets on the new
pictures, slow rates for the copied weights) kept 0.98 of the base's labels on footage but
reached 0.80-0.84 IoU on a new class where the plain fine-tune reached 0.93, and faster rates
for the new class cost the base's classes (BENCHMARKS.md, "Keeping the base model's classes").
The pair is exact on both counts, for a second network pass.

A user's class named like one of the base's (``person`` beside espnetv2-voc) is that class,
not a second one: where the fine-tune finds it, it is the base's class id. The user's
background is the base's background.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from livesegment.core.compose.palette import voc_palette
from livesegment.core.models.model_file import ModelCard
from livesegment.core.models.zoo import ModelSpec
from livesegment.errors import InputError
from livesegment.io.datasets.records import IGNORE
from livesegment.pipeline.training.data import RGB

MAX_CLASSES = IGNORE  # class ids are uint8 and 255 means "ignore"


@dataclass(frozen=True, eq=False)
class KeptClasses:
    """The result's class table (the base's classes, then the user's new ones) and where each
    of the user's class ids lands in it."""

    classes: tuple[str, ...]
    colours: tuple[RGB, ...]
    background: int
    kept: int                 # the base's class count: ids below it are the base's
    user_background: int
    lookup: np.ndarray        # 256 uint8: user's class id -> result's id (255 stays ignore)

    @property
    def new_ids(self) -> tuple[int, ...]:
        return tuple(range(self.kept, len(self.classes)))

    def ids(self, count: int) -> list[int]:
        """Where each of the user's ``count`` classes lands in the result's classes."""
        return [int(self.lookup[i]) for i in range(count)]


def merge_classes(base: ModelSpec, classes: Sequence[str], colours: Sequence[RGB],
                  background: int) -> KeptClasses:
    """The base's classes followed by the user's new ones (see the module docstring)."""
    same = {i: _same_class(base, name) for i, name in enumerate(classes) if i != background}
    new = [i for i, base_id in same.items() if base_id is None]
    total = base.num_classes + len(new)
    if total > MAX_CLASSES:
        raise InputError(f"{total} classes with the base's {base.num_classes}: at most "
                         f"{MAX_CLASSES} fit in a mask")
    lookup = np.full(256, IGNORE, np.uint8)
    lookup[background] = base.background
    for user_id, base_id in same.items():
        if base_id is not None:
            lookup[user_id] = base_id
    used = [tuple(int(v) for v in c) for c in base.palette]
    spare = (c for c in (tuple(int(v) for v in c) for c in voc_palette(256)) if c not in used)
    for k, user_id in enumerate(new):
        lookup[user_id] = base.num_classes + k
        colour = tuple(int(v) for v in colours[user_id])
        # the user's colour unless it would read as another class; then a free one
        used.append(colour if colour not in used else next(spare))
    return KeptClasses(tuple(base.categories) + tuple(classes[i] for i in new), tuple(used),
                       base.background, base.num_classes, background, lookup)


def _same_class(base: ModelSpec, name: str) -> int | None:
    """The base's class called ``name`` (case, spaces, '-' and '_' aside), if it has one."""
    try:
        return base.class_id(name)
    except InputError:
        return None


def kept_card(card: ModelCard, table: KeptClasses, base: ModelSpec) -> ModelCard:
    """The plain fine-tune's ``card`` as the card of the model that keeps ``base`` beside it:
    the result's classes and colours, and where the fine-tune's own classes land."""
    training = {**card.training, "kept_classes": f"the {base.num_classes} of {base.name}, "
                "its own network run beside the fine-tune"}
    return replace(card, classes=table.classes, colours=table.colours,
                   background=table.background, training=training,
                   kept={"classes": list(card.classes), "background": card.background,
                         "ids": table.ids(len(card.classes))})
