"""The labelling window's slow work, without Qt: carrying accepted labels through a video's
frames, and training a model on the labels, each in a thread that a stop event cancels.

Callbacks run in the worker thread; a window hands them on to its own thread (a queued
signal) before touching widgets. Every result is written to the label store as it comes, so
cancelling keeps what was done: the frames carried so far, the best model trained so far.

Carrying works on the accepted frame's class map: each class's mask is carried on its own
(flow, then the colour model re-cut, core/select/tracking.py) and the masks are painted back
in class order. It runs forwards, then backwards, from the accepted frame, holding two frames
at a time, and stops in each direction at a frame a person accepted (theirs is never
replaced: a correction there is its own seed), at the end of the video, or just after a frame
whose confidence falls below the threshold (that frame is saved and marked for a look: going
on from a doubtful mask would spread its error).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from livesegment.core.select.tracking import THRESHOLD, Appearance, carry
from livesegment.errors import InputError, OutputError
from livesegment.io.datasets.labelstore import LabelStore
from livesegment.pipeline.background import BackgroundRun

if TYPE_CHECKING:  # the trainer (torch) is imported when a training starts, not before
    from livesegment.pipeline.training.trainer import TrainConfig, TrainProgress, TrainResult


@dataclass(frozen=True, eq=False)
class CarriedFrame:
    """One frame's labels as carried there (already saved in the store)."""

    index: int             # place in ``store.keys()``
    key: str
    labels: np.ndarray     # HxW uint8 class ids
    confidence: float      # the lowest of its classes' (tracking.carry)
    needs_look: bool       # below the threshold: the timeline marks it


@dataclass(frozen=True)
class CarryResult:
    """What a carrying run did: the frames it wrote (in the order done) and those that need a
    look; ``stopped`` when it was cancelled before the end."""

    start: int
    frames: tuple[int, ...]
    needs_look: tuple[int, ...]
    stopped: bool


@dataclass(frozen=True)
class TrainingOutcome:
    """``model`` is the file written (the best model so far when cancelled), None when the
    run stopped before its first validation saved one."""

    model: Path | None
    result: TrainResult


# -- carrying labels through a video ---------------------------------------------------------
def carry_labels(store: LabelStore, start: str, *,
                 on_frame: Callable[[CarriedFrame], None] | None = None,
                 stop: threading.Event | None = None, threshold: float = THRESHOLD,
                 refine: bool = True) -> CarryResult:
    """Carries the labels of frame ``start`` to the frames after and before it (see the
    module's docstring for where it stops); each frame is saved as carried, with its
    confidence, before ``on_frame`` hears of it."""
    if not store.is_video():
        raise InputError(f"{store.folder} holds pictures, not a video's frames; labels are "
                         "carried between frames of one video")
    seed = store.labels(start)
    if seed is None:
        raise InputError(f"{start} has no labels to carry; accept a mask there first")
    stop = stop or threading.Event()
    keys, first = store.keys(), store.index(start)
    picture = store.picture(start)
    classes = [int(c) for c in np.unique(seed) if c]
    looks = {c: Appearance(picture, seed == c) for c in classes}
    done: list[int] = []
    doubtful: list[int] = []
    with store.deferred():
        for step in (1, -1):
            before, masks = picture, {c: seed == c for c in classes}
            index = first + step
            while classes and 0 <= index < len(keys) and not stop.is_set():
                status = store.status(keys[index])
                if status is not None and status.human:
                    break
                after = store.picture(keys[index])
                labels, confidence = carried(before, after, masks, looks, refine)
                if not store.save_labels(keys[index], labels, confidence=confidence):
                    break  # a person accepted this frame while it was being carried
                done.append(index)
                low = confidence < threshold
                if low:
                    doubtful.append(index)
                if on_frame is not None:
                    on_frame(CarriedFrame(index, keys[index], labels, confidence, low))
                if low:
                    break
                before, index = after, index + step
    return CarryResult(first, tuple(done), tuple(doubtful), stop.is_set())


def carried(before: np.ndarray, after: np.ndarray, masks: dict[int, np.ndarray],
            looks: dict[int, Appearance], refine: bool) -> tuple[np.ndarray, float]:
    """Each class's mask carried one frame on (``masks`` updated in place), painted in class
    order into a class map, and the lowest confidence among them."""
    labels = np.zeros(after.shape[:2], np.uint8)
    confidence = 1.0
    for class_id in sorted(masks):
        masks[class_id], step = carry(before, after, masks[class_id], looks[class_id], refine)
        labels[masks[class_id]] = class_id
        confidence = min(confidence, step)
    return labels, confidence


def start_carrying(store: LabelStore, start: str, *,
                   on_frame: Callable[[CarriedFrame], None] | None = None,
                   on_done: Callable[[BackgroundRun[CarryResult]], None] | None = None,
                   threshold: float = THRESHOLD, refine: bool = True
                   ) -> BackgroundRun[CarryResult]:
    """:func:`carry_labels` in a background thread."""
    return BackgroundRun(lambda stop: carry_labels(store, start, on_frame=on_frame, stop=stop,
                                                   threshold=threshold, refine=refine),
                         "carry labels", on_done)


# -- training on the labels ------------------------------------------------------------------
def default_model_path(store: LabelStore) -> Path:
    """Beside the label folder, never inside it (a model is no picture of the dataset)."""
    return store.folder.with_name(store.folder.name + ".pt")


def train_on_labels(store: LabelStore | Path | str, output: Path | str, *,
                    config: TrainConfig | None = None,
                    on_progress: Callable[[TrainProgress], None] | None = None,
                    stop: threading.Event | None = None,
                    overwrite: bool = False) -> TrainingOutcome:
    """``livesegment train`` on the label folder (its labelled pictures only) into
    ``output``; ``stop`` ends it at the next step, keeping the best model so far. An existing
    ``output`` is replaced only with ``overwrite`` (the window asks first)."""
    from livesegment.pipeline.training.data import open_training_data
    from livesegment.pipeline.training.trainer import Trainer

    folder = store.folder if isinstance(store, LabelStore) else Path(store)
    output = Path(output)
    if output.is_dir():
        raise OutputError(f"{output} is a folder; give the model file to write (model.pt)")
    if output.exists() and not overwrite:
        raise OutputError(f"{output} exists; choose another name or agree to replace it")
    if folder.resolve() in output.resolve().parents:
        raise OutputError(f"{output} is inside the label folder {folder}; write it elsewhere")
    data = open_training_data(folder)
    config = for_labels(config)
    result = Trainer(data, output, config, on_progress=on_progress, stop=stop).run()
    return TrainingOutcome(output if result.best_step else None, result)


def for_labels(config: TrainConfig | None) -> TrainConfig:
    """What a training on a label folder runs: ``config`` with a base that can be fine-tuned
    (the model a window segments with may be one that cannot, such as the fused default or a
    model that keeps its base beside a fine-tune: then the usual base). A video's frames train at the base's own size (the trainer's
    rule for label folders of a video)."""
    from dataclasses import replace

    from livesegment.core.models.catalog import DEFAULT_TRAIN_BASE
    from livesegment.core.models.espnetv2 import ESPNetv2
    from livesegment.core.models.zoo import get_spec
    from livesegment.errors import LivesegmentError
    from livesegment.pipeline.training.trainer import TrainConfig

    config = config or TrainConfig()
    try:  # the architecture alone says it (no weights read, none downloaded)
        spec = get_spec(config.base)
        trainable = spec.weights.format not in ("tflite", "fused", "kept") and isinstance(
            spec.build(spec.num_classes), ESPNetv2)
    except LivesegmentError:
        trainable = False
    return config if trainable else replace(config, base=DEFAULT_TRAIN_BASE)


def start_training(store: LabelStore | Path | str, output: Path | str, *,
                   config: TrainConfig | None = None,
                   on_progress: Callable[[TrainProgress], None] | None = None,
                   on_done: Callable[[BackgroundRun[TrainingOutcome]], None] | None = None,
                   overwrite: bool = False) -> BackgroundRun[TrainingOutcome]:
    """:func:`train_on_labels` in a background thread; ``cancel()`` keeps the best model."""
    return BackgroundRun(lambda stop: train_on_labels(store, output, config=config,
                                                      on_progress=on_progress, stop=stop,
                                                      overwrite=overwrite),
                         "train on labels", on_done)
