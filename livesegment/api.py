"""The Python API: load a model, segment a picture, paint an overlay, process a file.

Small functions over the same engine the command line and the window use, so a script gets the
same labels, colours and files as ``livesegment process``. Pictures are numpy arrays in OpenCV's
order (HxWx3 uint8 BGR); labels are HxW uint8 class ids (``model.spec.categories[id]``).

>>> import livesegment
>>> model = livesegment.load_model()                  # espnetv2-voc, bundled with the package
>>> frame = next(livesegment.read_frames(livesegment.sample_clip()))
>>> labels = livesegment.segment(model, frame)         # 432x768 class ids, edges refined

A video's frames are segmented with the command line's temporal smoothing by
:func:`segment_frames` (the labels ``process`` writes: it looks a few frames ahead) or, one
frame at a time as they arrive, by :class:`VideoSegmenter` (past frames only, as ``live``).

A model is measured on a labelled folder (image + mask folders, VOC/CVAT, COCO, YOLO-seg,
LabelMe) by :func:`evaluate`, the figures ``livesegment eval`` prints; :func:`read_dataset`
gives the folder's pictures and labels and its pre-flight report.

Click to segment: :class:`Selector` turns clicks on a picture into an object's mask (and
corrects a mask with more clicks); :func:`evaluate_clicks` scores it, or any engine with the
same two methods, on a labelled folder with the field's click protocol (NoC@85, NoC@90).
:func:`propagate` carries a mask accepted on one frame through a video's other frames, and
:func:`track` says with it how sure each frame is (the frames that need a look).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from livesegment.core.compose.overlay import OverlayStyle, blend_numpy
from livesegment.core.frames import Frame, Inference
from livesegment.core.masks.smoothing import DEFAULT_LOOKAHEAD, MaskOptions, TemporalSmoother
from livesegment.core.models.catalog import DEFAULT_SMOOTHING
from livesegment.core.models.catalog import DEFAULT_TRAIN_BASE
from livesegment.core.models.zoo import DEFAULT_MODEL, REGISTRY
from livesegment.core.segmenter import Segmenter, mask_labels
from livesegment.core.select import ClickScores, PlainGrabCut, Propagation, Selector
from livesegment.core.select import propagate, track
from livesegment.core.select.protocol import MAX_CLICKS, THRESHOLDS, Promptable, score_clicks
from livesegment.io.datasets import IGNORE, LabelledDataset, open_dataset
from livesegment.io.images import PAGED_SUFFIXES, AnimatedPictureSource, read_image
from livesegment.io.sample import sample_clip
from livesegment.io.video import VideoFileSource
from livesegment.pipeline.job import JobReport, is_image
from livesegment.pipeline.job import process_file as _process_file
from livesegment.pipeline.validate import EvalResult, Validator

__all__ = ["evaluate", "evaluate_clicks", "load_model", "models", "overlay", "PlainGrabCut",
           "process_file", "propagate", "Propagation", "read_dataset", "read_frames",
           "sample_clip", "segment", "segment_frames", "Segmenter", "Selector", "track", "train",
           "VideoSegmenter"]

if TYPE_CHECKING:  # training imports stay lazy: a script that only segments never pays them
    from livesegment.pipeline.training import TrainProgress, TrainResult

PathLike = str | os.PathLike
REFINE = MaskOptions().refine  # the command line's default, so a script gets the same labels


def models() -> list[str]:
    """Names accepted by :func:`load_model` (``livesegment models`` shows details)."""
    return list(REGISTRY)


def load_model(name: str = DEFAULT_MODEL, *, device: str = "auto", size: int | None = None,
               weights: PathLike | None = None, backend: str = "torch") -> Segmenter:
    """A model ready for pictures: weights loaded safely, on ``device`` (``auto``: CUDA if
    present), at inference short side ``size`` (default the model's)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a model name (str, see models()), not {type(name).__name__}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
        raise TypeError(f"size must be a whole number of pixels or None, not {size!r}")
    weights = _path(weights, "weights") if weights else None
    return Segmenter.create(name, device, size, weights, backend)


def segment(model: Segmenter, bgr: np.ndarray, *, refine: bool = REFINE,
            tile: bool = False) -> np.ndarray:
    """HxW uint8 class ids for one HxWx3 uint8 BGR picture, at the picture's own size.

    ``refine`` snaps class edges to the picture's edges, on by default as in ``process``, so a
    script and the command line give the same labels for the same picture. ``tile`` runs the
    model on overlapping tiles of its inference size at full detail, as ``process --tile``
    does, for pictures many times that size (``refine`` then does not apply)."""
    model, bgr = _segmenter(model), _checked(bgr)
    if tile:
        return model.tile_labels(model.upload(bgr)).cpu().numpy()
    return _labels(model.infer(Frame(0, 0.0, bgr)), refine)


def segment_frames(model: Segmenter, frames: Iterable[np.ndarray], *,
                   smoothing: float = DEFAULT_SMOOTHING, refine: bool = REFINE,
                   ) -> Iterator[np.ndarray]:
    """Class ids for each picture of a sequence, in order, with ``process``'s temporal
    smoothing: it holds a few frames back to look ahead, so each result comes a few pictures
    after its frame went in (all of them by the end). ``smoothing=0`` is frame by frame."""
    model, smoother = _segmenter(model), TemporalSmoother(_strength(smoothing), DEFAULT_LOOKAHEAD)
    for index, bgr in enumerate(frames):
        for ready in smoother.push(model.infer(Frame(index, 0.0, _checked(bgr)))):
            yield _labels(ready, refine)
    for ready in smoother.flush():
        yield _labels(ready, refine)


class VideoSegmenter:
    """Segments frames one at a time as they arrive (a camera, a game, a video call), with the
    live view's temporal smoothing: past frames only, so each call answers at once.

    >>> video = livesegment.VideoSegmenter(model)
    >>> labels = video.segment(frame)    # for every new frame; video.reset() at a new scene
    """

    def __init__(self, model: Segmenter, *, smoothing: float = DEFAULT_SMOOTHING,
                 refine: bool = REFINE) -> None:
        self.model = _segmenter(model)
        self.refine = refine
        self._smoother = TemporalSmoother(_strength(smoothing))
        self._index = 0

    def segment(self, bgr: np.ndarray) -> np.ndarray:
        """HxW uint8 class ids for the next frame, steadied by the frames before it."""
        result = self.model.infer(Frame(self._index, 0.0, _checked(bgr)))
        self._index += 1
        (smoothed,) = self._smoother.push(result)
        return _labels(smoothed, self.refine)

    def reset(self) -> None:
        """Forget the past frames (another video, a jump): the next frame stands alone."""
        self._smoother.reset()


def overlay(bgr: np.ndarray, labels: np.ndarray, model: Segmenter, *,
            classes: Iterable[str | int] | None = None, opacity: float = 0.5) -> np.ndarray:
    """``bgr`` with the class colours blended in where ``labels`` has the chosen classes
    (default: every class but the background), exactly as ``livesegment process`` paints."""
    bgr, model = _checked(bgr), _segmenter(model)
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "ui":
        raise TypeError("labels must be an HxW integer array of class ids (from segment()), "
                        f"not {getattr(labels, 'dtype', type(labels).__name__)}")
    if labels.shape != bgr.shape[:2]:
        raise ValueError(f"labels {labels.shape} do not match the picture {bgr.shape[:2]}")
    return blend_numpy(bgr, labels.astype(np.uint8, copy=False), _style(model, classes, opacity))


def read_frames(path: PathLike) -> Iterator[np.ndarray]:
    """Every picture of a video (or the one picture of an image file), as BGR arrays."""
    path = _path(path, "path")
    if is_image(path):
        yield read_image(path)
        return
    paged = path.suffix.lower() in PAGED_SUFFIXES  # animated WebP, multi-page TIFF: Pillow
    source = AnimatedPictureSource(path) if paged else VideoFileSource(path)
    try:
        for frame in source.frames():
            yield frame.bgr
    finally:
        source.close()


def process_file(source: PathLike, output: PathLike, model: Segmenter | None = None, *,
                 classes: Iterable[str | int] | None = None, opacity: float = 0.5,
                 masks: PathLike | None = None, smoothing: float = DEFAULT_SMOOTHING,
                 refine: bool = REFINE, tile: bool = False) -> JobReport:
    """Annotates a video or picture into ``output``, as ``livesegment process`` does (with its
    mask defaults): every frame, timing and audio kept, the output swapped in only when
    complete. ``tile``: a still segmented in tiles at full detail (``process --tile``)."""
    source, output = _path(source, "source"), _path(output, "output")
    model = load_model() if model is None else _segmenter(model)
    return _process_file(source, output, model, _style(model, classes, opacity),
                         _path(masks, "masks") if masks is not None else None,
                         mask_options=MaskOptions(_strength(smoothing), refine, bool(tile)))


def train(data: PathLike, output: PathLike, *, classes: Iterable[str] | None = None,
          val: PathLike | float | None = None, time: str | float | None = None,
          epochs: int | None = None, seed: int = 0, patience: int | None = 10,
          size: int | None = None, base: str = DEFAULT_TRAIN_BASE, keep_classes: bool = False,
          resume: bool = False, on_progress: Callable[[TrainProgress], None] | None = None
          ) -> TrainResult:
    """Fine-tunes ``base`` on the labelled pictures in folder ``data`` (any format ``train``
    reads) and writes the best model to ``output``, as ``livesegment train`` does; then
    ``load_model(output)`` uses it. ``val``: a share of the pictures to validate on (default
    0.2, stratified, fixed by ``seed``) or a second labelled folder. ``time``: a budget such
    as ``"10m"`` the run plans for; ``keep_classes`` keeps the base's classes beside the
    user's (the file runs the base, frozen, beside the fine-tune); ``resume``
    continues a stopped run of ``output``."""
    from livesegment.pipeline.training import Trainer, TrainConfig, replace_config
    from livesegment.pipeline.training.data import open_training_data
    from livesegment.pipeline.training.schedule import parse_duration

    share = val if isinstance(val, (int, float)) else None
    training = open_training_data(data, classes, None if share is not None else val)
    config = replace_config(TrainConfig(base=base, seed=seed, patience=patience,
                                        keep_classes=keep_classes),
                            time_s=None if time is None else parse_duration(time),
                            epochs=epochs, size=size, val_share=share)
    return Trainer(training, Path(output), config, on_progress=on_progress,
                   resume=resume).run()


def read_dataset(path: PathLike, *, classes: Sequence[str] | None = None,
                 ignore: Sequence[int] = ()) -> LabelledDataset:
    """A labelled dataset in any supported format, found by looking; ``dataset[i]`` is a
    ``Sample`` (``image`` BGR, ``labels`` class ids, 255 = ignore) and ``dataset.report`` the
    pre-flight report. ``classes`` names the classes where the folder does not; ``ignore``
    lists extra mask values to leave out (GrabCut's 128). A broken dataset raises
    ``InputError`` naming the file."""
    return open_dataset(Path(path), classes, ignore)


def evaluate(model: Segmenter, data: PathLike | LabelledDataset, *,
             class_map: Mapping[str, str | Iterable[str]] | None = None,
             refine: bool = False, tile: bool = False) -> EvalResult:
    """``model`` scored on a labelled dataset, as ``livesegment eval`` does: per-class IoU,
    Dice, precision, recall, boundary F and "contains the class" figures in
    ``result.scores``, fps, and the worst pictures. Classes are matched by name; ``class_map``
    maps others (``{"human": "person"}``, ``{"vehicle": ["car", "bus"]}``), every other model
    class counting as background. ``refine`` is off by default: it measures the network;
    ``tile`` measures it on tiles at full detail (``eval --tile``)."""
    dataset = data if isinstance(data, LabelledDataset) else read_dataset(data)
    pairs = {name: (models,) if isinstance(models, str) else tuple(models)
             for name, models in (class_map or {}).items()}
    return Validator(model, dataset, pairs, refine=refine, tile=tile).run()


def evaluate_clicks(selector: Promptable, data: PathLike | LabelledDataset, *,
                    max_clicks: int = MAX_CLICKS, thresholds: Sequence[float] = THRESHOLDS,
                    ignore: Sequence[int] = (), limit: int | None = None) -> ClickScores:
    """``selector`` (a :class:`Selector`, :class:`PlainGrabCut` or anything with their
    ``set_image``/``predict``) under the field's click protocol on a labelled folder: each
    next click at the centre of the largest wrong region, at most ``max_clicks``; every class
    but the background is the object. ``result.noc(0.9)`` is NoC@90, ``result.seconds`` the
    time of each answer. ``ignore`` lists mask values that count nowhere (GrabCut's band:
    ``ignore=[128]``); ``limit`` takes the first pictures only."""
    if isinstance(max_clicks, bool) or not isinstance(max_clicks, int) or max_clicks < 1:
        raise ValueError(f"max_clicks: expected a whole number >= 1, got {max_clicks!r}")
    if not thresholds or not all(0.0 < t <= 1.0 for t in thresholds):
        raise ValueError(f"thresholds: expected IoUs within (0, 1], got {thresholds!r}")
    dataset = data if isinstance(data, LabelledDataset) else read_dataset(data, ignore=ignore)
    count = len(dataset) if limit is None else min(limit, len(dataset))
    background = dataset.background

    def pictures():
        for index in range(count):
            sample = dataset[index]
            valid = sample.labels != IGNORE
            yield sample.name, sample.image, valid & (sample.labels != background), valid

    return score_clicks(selector, pictures(), max_clicks, max(thresholds))


def _style(model: Segmenter, classes: Iterable[str | int] | None,
           opacity: float) -> OverlayStyle:
    """The overlay for class names or ids (``None``: every class but the background)."""
    spec = model.spec
    if isinstance(classes, (str, int)):  # one class named alone, not its letters
        classes = [classes]
    selected = None if classes is None else frozenset(
        c if isinstance(c, int) else spec.class_id(c) for c in classes)
    if selected is not None and not all(0 <= c < spec.num_classes for c in selected):
        raise ValueError(f"classes {sorted(selected)}: {spec.name} has class ids "
                         f"0..{spec.num_classes - 1}")
    return OverlayStyle(spec.palette, spec.background, opacity, selected)


def _labels(result: Inference, refine: bool) -> np.ndarray:
    return mask_labels(result, refine).cpu().numpy()


def _strength(smoothing: float) -> float:
    if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)):
        raise TypeError(f"smoothing must be a number within 0..1, not {smoothing!r}")
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"smoothing must be within 0..1, got {smoothing!r}")
    return float(smoothing)


def _checked(bgr: np.ndarray) -> np.ndarray:
    if not isinstance(bgr, np.ndarray):
        raise TypeError(f"bgr must be an HxWx3 uint8 BGR numpy array, not {type(bgr).__name__}")
    if not (bgr.dtype == np.uint8 and bgr.ndim == 3 and bgr.shape[2] == 3):
        raise ValueError(f"bgr: expected an HxWx3 uint8 BGR picture, got {bgr.shape} "
                         f"{bgr.dtype}")
    if bgr.size == 0:
        raise ValueError(f"bgr: the picture is empty ({bgr.shape[1]}x{bgr.shape[0]} pixels)")
    return np.ascontiguousarray(bgr)


def _segmenter(model: Segmenter) -> Segmenter:
    if not isinstance(model, Segmenter):
        raise TypeError(f"model must be a Segmenter from load_model(), not "
                        f"{type(model).__name__}")
    return model


def _path(value: PathLike, name: str) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), not "
                        f"{type(value).__name__}")
    return Path(value)
