"""A trained model as one file of data: its weights and its card, never code.

The file is what ``torch.save`` writes for a dict of plain values, read back with
``weights_only=True`` (:mod:`livesegment.core.models.safe_load`)::

    {"livesegment_card": "<JSON text>", "state_dict": {name: tensor, ...}}

The card says everything a front end needs to use the weights (architecture, class names and
colours, normalisation, input size) and what a person needs to trust them (base model, training
summary, validation figures). The architecture is a name looked up in :data:`ARCHITECTURES`,
so a file can only choose among networks this package defines.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from livesegment.core.models.espnetv2 import ESPNetv2
from livesegment.core.models.safe_load import load_plain
from livesegment.errors import WeightsError

CARD_KEY = "livesegment_card"
FORMAT = "livesegment-model"
VERSION = 2  # 2: cards may keep a base's classes (``kept``); older cards are version 1
MODEL_SUFFIXES = (".pt", ".pth", ".ckpt")

# name -> builder(num_classes, decoder_projection): the networks a model file may ask for.
ARCHITECTURES: dict[str, Callable[[int, int], nn.Module]] = {
    "espnetv2": lambda num_classes, projection: ESPNetv2(num_classes, projection),
}


@dataclass(frozen=True)
class ModelCard:
    """What a trained model is, as plain data (stored as JSON inside the model file)."""

    title: str
    architecture: str           # a key of ARCHITECTURES
    decoder_projection: int     # the base's decoder width, kept so its weights transfer
    base: str                   # the model it was fine-tuned from
    classes: tuple[str, ...]    # index = class id
    colours: tuple[tuple[int, int, int], ...]  # RGB per class
    background: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    size: int                   # inference short side it was trained for
    size_multiple: int
    licence: str
    training: dict[str, Any] = field(default_factory=dict)    # data, schedule, time, seed
    validation: dict[str, Any] = field(default_factory=dict)  # figures on held-out pictures
    # A model that keeps its base's classes (core/models/kept.py): the file's weights are a
    # fine-tune of ``kept["classes"]`` (its background ``kept["background"]``), run beside the
    # named base; ``kept["ids"]`` says where each of its classes lands in ``classes``.
    kept: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problem = _card_problem(self)
        if problem:
            raise ValueError(problem)

    def build(self, num_classes: int | None = None) -> nn.Module:
        """The untrained network whose weights the file holds (a kept model's fine-tune)."""
        if num_classes not in (None, len(self.classes)):
            raise WeightsError(f"model '{self.title}' segments {len(self.classes)} classes, "
                               f"not {num_classes}")
        count = len(self.kept["classes"]) if self.kept else len(self.classes)
        return ARCHITECTURES[self.architecture](count, self.decoder_projection)

    def builder(self) -> Callable[[int], nn.Module]:
        return partial(ModelCard.build, self)

    def to_json(self) -> str:
        values = asdict(self)
        if not self.kept:  # readable by every livesegment that reads version 1
            del values["kept"]
        return json.dumps({"format": FORMAT, "version": VERSION if self.kept else 1, **values},
                          indent=1)

    def with_results(self, training: dict[str, Any], validation: dict[str, Any]) -> ModelCard:
        """The same card with a run's summary and figures filled in."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return ModelCard(**{**values, "training": training, "validation": validation})


def _card_problem(card: ModelCard) -> str:
    """Why these values cannot describe a usable model ("" when they can)."""
    n = len(card.classes)
    if card.architecture not in ARCHITECTURES:
        return (f"architecture '{card.architecture}' is not one of "
                f"{', '.join(ARCHITECTURES)}")
    if n < 2 or len(card.colours) != n:
        return f"{n} classes with {len(card.colours)} colours (need 2+ classes, one colour each)"
    if not 0 <= card.background < n:
        return f"background id {card.background} is not a class id"
    if any(len(c) != 3 or not all(0 <= v <= 255 for v in c) for c in card.colours):
        return "colours must be RGB triples 0..255"
    if len(card.mean) != 3 or len(card.std) != 3 or not all(s > 0 for s in card.std):
        return "mean and std must be three numbers each, std above 0"
    if not isinstance(card.training, dict) or not isinstance(card.validation, dict):
        return "training and validation must be tables of values"
    if card.size < card.size_multiple or card.size_multiple < 1 or card.decoder_projection < 1:
        return f"size {card.size} (multiple {card.size_multiple}) is not usable"
    return _kept_problem(card.kept, n) if card.kept else ""


def _kept_problem(kept: Any, n: int) -> str:
    """Why a card's ``kept`` table cannot say how its fine-tune's classes map ("" if it can)."""
    if not isinstance(kept, dict):
        return "kept must be a table"
    classes, ids = kept.get("classes"), kept.get("ids")
    if not isinstance(classes, list | tuple) or not isinstance(ids, list | tuple) \
            or len(classes) < 2 or len(ids) != len(classes):
        return "kept needs the fine-tune's classes (2+) and a class id for each"
    if not all(isinstance(i, int) and 0 <= i < n for i in ids):
        return f"kept ids must be class ids below {n}"
    if not isinstance(kept.get("background"), int) or not 0 <= kept["background"] < len(ids):
        return "kept background is not one of the fine-tune's class ids"
    return ""


def card_from_json(text: str, path: Path) -> ModelCard:
    """The card in ``text``; a damaged or foreign card names the file and the problem."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise WeightsError(f"{path}: the model card is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise WeightsError(f"{path}: the model card is not a {FORMAT} card")
    if not isinstance(data.get("version"), int) or data["version"] > VERSION:
        raise WeightsError(f"{path}: model card version {data.get('version')} is newer than "
                           f"this livesegment reads ({VERSION}); update livesegment")
    names = {f.name for f in fields(ModelCard)}
    values = {k: v for k, v in data.items() if k in names}
    missing = [f.name for f in fields(ModelCard)
               if f.name not in values and f.default is MISSING and f.default_factory is MISSING]
    if missing:
        raise WeightsError(f"{path}: the model card has no {', '.join(missing)}")
    try:
        values["classes"] = tuple(str(c) for c in values["classes"])
        values["colours"] = tuple(tuple(int(v) for v in c) for c in values["colours"])
        values["mean"] = tuple(float(v) for v in values["mean"])
        values["std"] = tuple(float(v) for v in values["std"])
        return ModelCard(**values)
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{path}: the model card is not usable ({exc})") from None


def pack(card: ModelCard, state: dict[str, torch.Tensor], **extra: Any) -> dict[str, Any]:
    """The object ``torch.save`` writes as a model file; ``extra`` holds more plain data
    (a training checkpoint's optimiser state), ignored by everything that only uses the model."""
    return {CARD_KEY: card.to_json(), "state_dict": state, **extra}


def read_model_file(path: Path) -> tuple[ModelCard, dict[str, Any]]:
    """The card and the whole plain content of a model file, read without running code."""
    obj = load_plain(path, "model file")
    if not isinstance(obj, dict) or not isinstance(obj.get(CARD_KEY), str):
        raise WeightsError(
            f"{path} is not a livesegment model file (it has no model card); plain weights "
            "go with --weights FILE and the --model they were trained for")
    if not isinstance(obj.get("state_dict"), dict):
        raise WeightsError(f"{path} holds a model card but no weights")
    return card_from_json(obj[CARD_KEY], path), obj


def looks_like_file(name: str) -> bool:
    """True when a ``--model`` value names a file rather than a registry entry."""
    return "/" in name or "\\" in name or name.lower().endswith(MODEL_SUFFIXES) \
        or Path(name).is_file()


def describe_card(card: ModelCard, path: Path) -> list[str]:
    """The card as ``key: value`` lines for ``livesegment models FILE``."""
    lines = [f"{path}: {card.title}",
             f"  architecture {card.architecture} (fine-tuned from {card.base}), input short "
             f"side {card.size} px (multiple of {card.size_multiple})",
             f"  mean {_triple(card.mean)}, std {_triple(card.std)}",
             f"  licence {card.licence}"]
    if card.kept:
        new = [c for c, i in zip(card.kept["classes"], card.kept["ids"])
               if i != card.background]
        lines.insert(2, f"  classes: {len(card.classes)}, {card.base}'s own (it runs beside "
                     f"the fine-tune, frozen) and {', '.join(new)} where the fine-tune finds "
                     "them")
    for title, table in (("training", card.training), ("validation", card.validation)):
        if table:
            lines.append(f"  {title}:")
            lines += [f"    {k}: {_short(v)}" for k, v in table.items() if v is not None]
    return lines


def _triple(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in values) + ")"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_short(v)}" for k, v in value.items() if v is not None)
    return str(value)
