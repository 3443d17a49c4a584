"""Keeping the base model's classes beside the user's (``train --keep-classes``).

A plain fine-tune replaces the base's classes with the user's: the result finds scratches but
no longer people. Keeping them, the result segments the base's classes followed by the user's
new ones, and learns the old ones from the base itself: on every training picture, where the
user's mask says background, the target is the base model's own label for that pixel
(computed once per picture by the frozen base, seen as training sees it), and where the mask
says one of the user's classes, that class. The targets are made before augmentation, so they
are zoomed, cropped and turned exactly as the mask would be. The network's batch norms keep
the base's statistics throughout (:func:`hold_norm_statistics`).

Hard labels alone forget: on pictures of another kind (grey tiles) they name two or three of
the base's classes, and nothing holds the other rows of the classifier, one of which soon wins
everywhere (measured: a third of a tile's pixels became ``bird``). So the frozen base also runs
on every training batch, and its probabilities over all its classes are soft targets where the
targets are the base's (:class:`BaseTeacher`, "Learning without Forgetting", Li & Hoiem 2016).

A user's class named like one of the base's (``person`` beside espnetv2-voc) is that class,
not a second one: two classes for the same pixels would compete, and the user's masks are the
better judge of what they show. The user's background is the base's background.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from livesegment.core.compose.palette import voc_palette
from livesegment.core.models.espnetv2 import classifier
from livesegment.core.frames import Frame
from livesegment.core.models.zoo import ModelSpec, load_model
from livesegment.core.segmenter import Segmenter, mask_labels
from livesegment.errors import InputError
from livesegment.io.datasets.records import IGNORE
from livesegment.pipeline.training.data import RGB, TrainingData

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

    @property
    def base_only(self) -> tuple[int, ...]:
        """The classes only the base's labels teach (left out of the Dice term, which is for
        what the user labelled: the new classes, and base classes the user named)."""
        users = {int(self.lookup[i]) for i in range(256)
                 if i != self.user_background and self.lookup[i] != IGNORE}
        return tuple(i for i in range(len(self.classes)) if i not in users)

    def users_miou(self, iou: dict[str, float | None]) -> float | None:
        """The mean IoU of the classes the user labelled (validation's ``iou`` by name): what
        a keep run's best model is chosen by. The mean over every class averaged 20-odd base
        classes with the new ones, and chose step 3 of 60, before the new class was learnt."""
        users = [iou.get(self.classes[i]) for i in range(len(self.classes))
                 if i not in self.base_only]
        seen = [v for v in users if v is not None]
        return float(np.mean(seen)) if seen else None

    def rows(self) -> dict[int, int]:
        """The classifier rows that start as the base's own: every kept class, and each new
        class as the base's background (then lowered by :func:`start_below_background`)."""
        return {i: i for i in range(self.kept)} | dict.fromkeys(self.new_ids, self.background)

    def targets(self, user: np.ndarray, base: np.ndarray) -> np.ndarray:
        """Training labels: the user's classes where the mask has one, the base's label where
        the mask says background, ignore where the mask says ignore."""
        out = self.lookup[user]
        from_base = user == self.user_background
        out[from_base] = base[from_base]
        return out

    def per_class(self, user_values: np.ndarray, kept_value: float) -> np.ndarray:
        """A per-class vector of the user's classes (class weights, crop rarity) for the
        result's classes: each user class keeps its value, the base's other classes get
        ``kept_value``."""
        out = np.full(len(self.classes), kept_value, np.asarray(user_values).dtype)
        for user_id, value in enumerate(user_values):
            out[self.lookup[user_id]] = value
        return out


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


def base_labels(base: ModelSpec, images: Iterable[np.ndarray], size: int,
                threads: int | None = None) -> list[np.ndarray]:
    """The frozen base model's labels for each picture at the picture's own resolution, the
    picture seen at short side ``size`` as training and validation see it; on ``threads``
    torch threads where given (on a busy CPU one is several times faster than two)."""
    segmenter = Segmenter(base, load_model(base), torch.device("cpu"), size)
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        return [mask_labels(segmenter.infer(Frame(i, 0.0, image))).cpu().numpy()
                for i, image in enumerate(images)]
    finally:
        torch.set_num_threads(before)


def keep_base_classes(data: TrainingData, base: ModelSpec, size: int,
                      threads: int | None = None) -> tuple[TrainingData, KeptClasses]:
    """``data`` relabelled for the result's classes, with the base's labels as targets where
    the masks say background; the pictures keep their order, names and splits."""
    table = merge_classes(base, data.classes, data.colours, data.background)
    labels = base_labels(base, (s.image for s in data.samples), size, threads)
    samples = [replace(s, labels=table.targets(s.labels, b), classes=table.classes)
               for s, b in zip(data.samples, labels)]
    merged = TrainingData.from_samples(samples, table.classes, table.colours, table.background,
                                       data.source)
    return merged, table


def start_below_background(model: nn.Module, table: KeptClasses) -> None:
    """Each new class's row starts as the background's, ``ln(1 + new classes)`` lower (as in
    Cermelli et al. 2020, "Modeling the Background"): the first step's labels are the base's,
    and a new class is one push from winning where it is. Started small and random instead,
    a new class's logit sat about 9 below the background's on its own pixels and rose by
    0.01 a step (Adam moves each weight by about the learning rate): 60 steps learnt nothing."""
    with torch.no_grad():
        classifier(model).bias[list(table.new_ids)] -= math.log(1 + len(table.new_ids))


def slow_kept_rows(optimizer: torch.optim.Optimizer, model: nn.Module, table: KeptClasses,
                   share: float) -> None:
    """Each step of ``optimizer`` moves the classifier's kept rows by ``share`` of what it
    moves the new ones: the new classes need the head's high rate to be learnt in a few
    dozen steps (at the body's rate their logits hardly moved), and the base's rows at that
    rate were lost in the warm-up (person IoU 0 after 3 steps). Adam makes each weight's step
    about its rate whatever the gradient's size, so the steps are scaled, not the gradients."""
    head = classifier(model)
    kept = list(range(table.kept))
    before: list[torch.Tensor] = []

    def remember(_optimizer: object, _args: object, _kwargs: object) -> None:
        before[:] = [p[kept].detach().clone() for p in (head.weight, head.bias)]

    def scale(_optimizer: object, _args: object, _kwargs: object) -> None:
        with torch.no_grad():
            for p, old in zip((head.weight, head.bias), before):
                p[kept] = old + share * (p[kept] - old)

    optimizer.register_step_pre_hook(remember)
    optimizer.register_step_post_hook(scale)


def hold_norm_statistics(model: nn.Module) -> None:
    """Every batch norm of ``model`` normalises with its running statistics (the base's),
    in training too, and never updates them. Pictures of another kind (grey tiles) would
    otherwise move the statistics that the base's classes rely on, and those classes would
    drift on the footage they were made for; the norms' scale and shift still learn."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.register_forward_pre_hook(_use_running_statistics)


def _use_running_statistics(module: nn.Module, _inputs: object) -> None:
    module.training = False


class BaseTeacher:
    """The frozen base network, run on each training batch as the trained one sees it: its
    probabilities over its own classes at ``temperature`` are the soft targets wherever the
    targets are the base's classes, so every one of them is held, not only those the pictures'
    labels name. The new classes' share there is pulled to 0 (the base gives them none)."""

    def __init__(self, base: ModelSpec, kept: int, temperature: float = 1.0) -> None:
        self.model = load_model(base).eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.kept, self.temperature = kept, temperature

    def loss(self, logits: torch.Tensor, x: torch.Tensor, target: torch.Tensor
             ) -> torch.Tensor:
        """The mean KL divergence from the base's class probabilities to the trained
        network's (all its classes) over the pixels whose target is a base class, scaled by
        the temperature squared as usual; 0 where there are none."""
        with torch.no_grad():
            teacher = self.model(x)
        t = self.temperature
        held = F.interpolate(target.unsqueeze(1).float(), logits.shape[2:], mode="nearest")
        held = held.squeeze(1) < self.kept
        if teacher.shape[2:] != logits.shape[2:]:
            teacher = F.interpolate(teacher, logits.shape[2:], mode="bilinear",
                                    align_corners=False)
        soft = F.log_softmax(teacher / t, 1)
        ours = F.log_softmax(logits / t, 1)[:, : self.kept]
        kl = (soft.exp() * (soft - ours)).sum(1)
        return (kl * held).sum() / held.sum().clamp(min=1) * t * t
