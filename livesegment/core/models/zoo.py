"""The model registry: each model is one :class:`ModelSpec` record, read by the CLI and the GUI.

Loading is strict and safe: checkpoints go through ``torch.load(weights_only=True)`` so a file
that would run code when unpickled is refused, and every key must match the architecture.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from livesegment.core.models.catalog import (  # noqa: F401 - re-exported
    DEFAULT_MODEL, DEFAULT_PORTRAIT_MODEL,
)
from livesegment.core.models.espnetv2 import ESPNetv2
from livesegment.core.models.fused import FusedPerson
from livesegment.core.models.kept import KeptBase
from livesegment.core.models.model_file import ModelCard, looks_like_file, read_model_file
from livesegment.core.models.safe_load import load_plain
from livesegment.core.compose.palette import cityscapes_palette, voc_palette
from livesegment.core.models.sinet import build_sinet
from livesegment.core.models.tflite_graph import load_tflite_person_model
from livesegment.errors import InputError, WeightsError, first_line

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)
CITYSCAPES_CLASSES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle", "background",
)
EDGENETS_LICENCE = "MIT (sacmehta/EdgeNets)"
TORCHVISION_LICENCE = "BSD-3-Clause (torchvision)"
MEDIAPIPE_LICENCE = "Apache-2.0 (google/mediapipe)"
SINET_LICENCE = "MIT (clovaai/ext_portrait_segmentation)"
PORTRAIT_CLASSES = ("background", "person")
# The release's own normalisation (etc/Visualize_video.py): BGR (v - mean) / std / 255 with its
# portrait dataset's statistics, i.e. RGB (v/255 - mean/255) / std. Not ImageNet's.
SINET_MEAN = (132.35703 / 255, 115.69884 / 255, 107.304565 / 255)
SINET_STD = (68.29726, 65.1337, 63.97182)


@dataclass(frozen=True)
class WeightsSource:
    """Where a model's trained weights come from.

    ``bundled``: a file shipped inside the package. ``torchvision``: a weights enum member, whose
    file is downloaded once into the torch hub cache. ``file``: a model file trained here
    (core/models/model_file.py).
    """

    kind: Literal["bundled", "torchvision", "file"]
    ref: str  # file name in livesegment/weights, "EnumName.MEMBER", or the model file's path
    # ``tflite``: the file holds the graph and its weights (MediaPipe's models), read by
    # core/models/tflite_graph.py instead of torch.load. ``fused``: two bundled models at
    # once (core/models/fused.py); ``ref`` names the main one's file. ``kept``: a model file
    # whose fine-tune runs beside its base (core/models/kept.py).
    format: Literal["state_dict", "tflite", "fused", "kept"] = "state_dict"

    def path(self) -> Path:
        """Local file holding these weights (it may not exist yet for torchvision's)."""
        if self.kind == "bundled":
            return Path(str(resources.files("livesegment") / "weights" / self.ref))
        if self.kind == "file":
            return Path(self.ref)
        url = _torchvision_weights(self.ref).url
        return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)

    def status(self) -> str:
        """``bundled``, ``cached`` or ``downloadable``: what a user needs to know before running."""
        if self.kind in ("bundled", "file"):
            return self.kind
        return "cached" if self.path().is_file() else "downloadable"


@dataclass(frozen=True)
class ModelSpec:
    """Everything about a model that is data rather than code."""

    name: str
    title: str
    categories: tuple[str, ...]  # index = class id
    background: int
    palette: np.ndarray  # len(categories) x 3, RGB uint8, in class-id order
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    size_multiple: int  # input sides must be multiples of this
    default_size: int  # short side of the inference input
    build: Callable[[int], nn.Module]  # architecture for N classes, untrained
    weights: WeightsSource
    licence: str
    default_classes: tuple[str, ...] = ("person",)  # "the usual ones" in the GUI
    # (H, W) of a network built for one input shape (MediaPipe's selfie models): every frame is
    # resized to exactly this, aspect ratio not kept, as MediaPipe itself does; ``size`` is unused.
    fixed_input: tuple[int, int] | None = None

    @property
    def num_classes(self) -> int:
        return len(self.categories)

    def class_id(self, name: str) -> int:
        """Id of a class name, tolerant of case, spaces, '_' and '-'; typos get a suggestion."""
        keys = {_key(c): i for i, c in enumerate(self.categories)}
        if _key(name) in keys:
            return keys[_key(name)]
        hint = difflib.get_close_matches(_key(name), list(keys), n=1, cutoff=0.5)
        suggestion = f"; did you mean '{self.categories[keys[hint[0]]]}'?" if hint else ""
        raise InputError(
            f"unknown class '{name}' for model {self.name}{suggestion} "
            f"(classes: {', '.join(self.categories)})"
        )


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


class TorchvisionSegmentation(nn.Module):
    """Adapts torchvision's dict output (``{"out": logits}``) to a plain logits tensor."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)["out"]


@cache
def _torchvision_weights(ref: str):  # -> torchvision WeightsEnum member
    from torchvision.models import get_model_weights

    enum_name, member = ref.split(".")
    arch = _TORCHVISION_ARCH[enum_name]
    return getattr(get_model_weights(arch), member)


def _torchvision_builder(arch: str, aux: bool) -> Callable[[int], nn.Module]:
    def build(num_classes: int) -> nn.Module:
        from torchvision.models import get_model

        kwargs = {"aux_loss": aux} if not arch.startswith("lraspp") else {}
        net = get_model(arch, weights=None, weights_backbone=None, num_classes=num_classes,
                        **kwargs)
        return TorchvisionSegmentation(net)

    return build


_TORCHVISION_ARCH = {
    "LRASPP_MobileNet_V3_Large_Weights": "lraspp_mobilenet_v3_large",
    "DeepLabV3_MobileNet_V3_Large_Weights": "deeplabv3_mobilenet_v3_large",
    "DeepLabV3_ResNet50_Weights": "deeplabv3_resnet50",
    "DeepLabV3_ResNet101_Weights": "deeplabv3_resnet101",
    "FCN_ResNet50_Weights": "fcn_resnet50",
    "FCN_ResNet101_Weights": "fcn_resnet101",
}


def _torchvision_spec(enum_name: str, title: str) -> ModelSpec:
    """A spec whose categories and normalisation come from the weights enum's own metadata."""
    ref = f"{enum_name}.COCO_WITH_VOC_LABELS_V1"
    weights = _torchvision_weights(ref)
    transforms = weights.transforms()
    categories = tuple("background" if c == "__background__" else c
                       for c in weights.meta["categories"])
    arch = _TORCHVISION_ARCH[enum_name]
    return ModelSpec(
        name=arch.replace("_", "-"),
        title=title,
        categories=categories,
        background=0,
        palette=voc_palette(len(categories)),
        mean=tuple(transforms.mean),
        std=tuple(transforms.std),
        size_multiple=8,
        default_size=int(transforms.resize_size[0]),
        # The released checkpoints carry an auxiliary head (except LR-ASPP): build it so the
        # strict load matches; it is never run at inference.
        build=_torchvision_builder(arch, aux=not arch.startswith("lraspp")),
        weights=WeightsSource("torchvision", ref),
        licence=TORCHVISION_LICENCE,
    )


def _build_registry() -> dict[str, ModelSpec]:
    specs = [
        ModelSpec(
            name="espnetv2-voc",
            title="ESPNetv2 (PASCAL VOC, 21 classes)",
            categories=VOC_CLASSES,
            background=0,
            palette=voc_palette(21),
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            size_multiple=32,
            default_size=256,
            build=ESPNetv2,
            weights=WeightsSource("bundled", "espnetv2_s_2.0_pascal_384x384.pth"),
            licence=EDGENETS_LICENCE,
            default_classes=("person", "car", "cat", "dog", "bicycle", "motorbike"),
        ),
        ModelSpec(
            name="espnetv2-cityscapes",
            title="ESPNetv2 (Cityscapes, 19 classes + background)",
            categories=CITYSCAPES_CLASSES,
            background=19,
            palette=cityscapes_palette(),
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            size_multiple=32,
            default_size=512,
            build=ESPNetv2,
            weights=WeightsSource("bundled", "espnetv2_s_2.0_city_1024x512.pth"),
            licence=EDGENETS_LICENCE,
            default_classes=("person", "rider", "car", "truck", "bus", "bicycle", "motorcycle"),
        ),
    ]
    specs.insert(1, _fused_spec(specs[0]))
    specs += _portrait_specs()  # bundled like ESPNetv2: listed before the downloadable ones
    try:
        specs += [
            _torchvision_spec("LRASPP_MobileNet_V3_Large_Weights", "LR-ASPP MobileNetV3-Large"),
            _torchvision_spec("DeepLabV3_MobileNet_V3_Large_Weights",
                              "DeepLabV3 MobileNetV3-Large"),
            _torchvision_spec("DeepLabV3_ResNet50_Weights", "DeepLabV3 ResNet-50"),
            _torchvision_spec("DeepLabV3_ResNet101_Weights", "DeepLabV3 ResNet-101"),
            _torchvision_spec("FCN_ResNet50_Weights", "FCN ResNet-50"),
            _torchvision_spec("FCN_ResNet101_Weights", "FCN ResNet-101"),
        ]
    except (ImportError, RuntimeError):
        # No usable torchvision (a slim desktop bundle, or a torchvision built for another
        # torch): the bundled ESPNetv2 models still work, the others are simply not offered.
        pass
    return {s.name: s for s in specs}


# The selfie model fused into espnetv2-voc-fused's person class (BENCHMARKS.md, "People").
FUSED_SELFIE_MODEL = "mediapipe-selfie"


def _fused_spec(voc: ModelSpec) -> ModelSpec:
    """espnetv2-voc with its person class fused from a selfie model (core/models/fused.py):
    the same classes, input and normalisation, so it stands in for espnetv2-voc anywhere."""
    return replace(
        voc, name="espnetv2-voc-fused",
        title="ESPNetv2 (PASCAL VOC, 21 classes), people fused with MediaPipe selfie",
        weights=WeightsSource("bundled", voc.weights.ref, format="fused"),
        licence=f"{EDGENETS_LICENCE} + {MEDIAPIPE_LICENCE}")


def _load_fused(spec: ModelSpec, weights: Path | None) -> FusedPerson:
    """The main network (``weights`` replace its bundled file) and the bundled selfie one."""
    main_spec = replace(spec, weights=replace(spec.weights, format="state_dict"))
    selfie = get_spec(FUSED_SELFIE_MODEL)
    return FusedPerson(load_model(main_spec, weights), load_model(selfie), selfie.fixed_input,
                       spec.mean, spec.std, spec.class_id("person")).eval()


def _load_kept(spec: ModelSpec, path: Path) -> KeptBase:
    """The model file's fine-tune beside its base, loaded as that base is anywhere."""
    card = read_model_file(path)[0]
    if not card.kept:
        raise WeightsError(f"{path} holds no fine-tune of a model that keeps its base's "
                           f"classes (use it as --model {path})")
    tuned = card.build()
    _fit_state_dict(tuned, read_state_dict(path), spec, path)
    base = load_model(get_spec(card.base))
    return KeptBase(base, tuned, card.kept["ids"], card.kept["background"],
                    len(card.classes)).eval()


def _portrait_palette() -> np.ndarray:
    """Background black, person in VOC's person colour, so overlays match espnetv2-voc's."""
    return voc_palette(21)[[0, 15]]


def _tflite_builder(ref: str, input_hw: tuple[int, int]) -> Callable[[int], nn.Module]:
    """The architecture lives in the bundled flatbuffer with its weights: build = read it."""
    def build(num_classes: int) -> nn.Module:
        if num_classes != len(PORTRAIT_CLASSES):
            raise WeightsError(f"{ref} segments {len(PORTRAIT_CLASSES)} classes, "
                               f"not {num_classes}")
        return load_tflite_person_model(WeightsSource("bundled", ref).path(), input_hw)

    return build


def _portrait_specs() -> list[ModelSpec]:
    """Person/background models for video calls (issue 15): small, bundled, 2 classes."""
    selfie = [
        ("mediapipe-selfie", "MediaPipe selfie segmentation (general, 256x256)",
         "selfie_segmentation.tflite", (256, 256)),
        ("mediapipe-selfie-landscape", "MediaPipe selfie segmentation (landscape, 144x256)",
         "selfie_segmentation_landscape.tflite", (144, 256)),
    ]
    specs = [
        ModelSpec(
            name=name,
            title=title,
            categories=PORTRAIT_CLASSES,
            background=0,
            palette=_portrait_palette(),
            mean=(0.0, 0.0, 0.0),   # RGB in [0, 1]
            std=(1.0, 1.0, 1.0),
            size_multiple=16,
            default_size=min(hw),
            build=_tflite_builder(ref, hw),
            weights=WeightsSource("bundled", ref, format="tflite"),
            licence=MEDIAPIPE_LICENCE,
            fixed_input=hw,
        )
        for name, title, ref, hw in selfie
    ]
    specs.append(ModelSpec(
        name="sinet-portrait",
        title="SINet portrait segmentation (EG1800)",
        categories=PORTRAIT_CLASSES,
        background=0,
        palette=_portrait_palette(),
        mean=SINET_MEAN,
        std=SINET_STD,
        size_multiple=32,
        default_size=224,   # trained at 224x224
        build=build_sinet,
        weights=WeightsSource("bundled", "sinet_portrait.pth"),
        licence=SINET_LICENCE,
    ))
    return specs


REGISTRY: dict[str, ModelSpec] = _build_registry()


def get_spec(name: str) -> ModelSpec:
    """The spec called ``name``, or the one a model file describes (a path, as every
    ``--model`` accepts); an unknown name gets a suggestion and the list."""
    if name in REGISTRY:
        return REGISTRY[name]
    if looks_like_file(name):
        path = Path(name).expanduser().resolve()
        if not path.is_file():
            raise InputError(f"model file not found: {name}")
        stat = path.stat()
        return _file_spec(path, stat.st_mtime_ns, stat.st_size)
    hint = difflib.get_close_matches(name, list(REGISTRY), n=1, cutoff=0.4)
    suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
    raise InputError(f"unknown model '{name}'{suggestion} (models: {', '.join(REGISTRY)}, "
                     "or a model file made by 'livesegment train')")


@lru_cache(maxsize=16)
def _file_spec(path: Path, _mtime_ns: int, _size: int) -> ModelSpec:
    """A trained model's spec from its card; cached until the file changes. Its name is the
    file's absolute path, so it travels to Ray workers and back into get_spec unchanged."""
    return spec_from_card(read_model_file(path)[0], path)


def spec_from_card(card: ModelCard, path: Path) -> ModelSpec:
    """The spec a model card describes, its weights in the model file at ``path`` (which a
    run in progress has not necessarily written yet)."""
    return ModelSpec(
        name=str(path),
        title=card.title,
        categories=card.classes,
        background=card.background,
        palette=np.array(card.colours, np.uint8),
        mean=card.mean,
        std=card.std,
        size_multiple=card.size_multiple,
        default_size=card.size,
        build=card.builder(),
        weights=WeightsSource("file", str(path), format="kept" if card.kept else "state_dict"),
        licence=card.licence,
        default_classes=tuple(c for i, c in enumerate(card.classes) if i != card.background),
    )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Reads a checkpoint without ever executing pickled code, unwrapping common containers."""
    obj = load_plain(path)
    for wrapper in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{path} holds no state dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _fit_state_dict(model: nn.Module, state: dict[str, torch.Tensor], spec: ModelSpec,
                    path: Path) -> None:
    """Strict load with a message that names what is missing, not PyTorch's wall of keys."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected),
                            ("wrong shape", wrong)):
            if keys:
                parts.append(f"{len(keys)} {label} (e.g. {', '.join(keys[:2])})")
        raise WeightsError(
            f"{path} does not fit model {spec.name}: keys {'; '.join(parts)}"
        )
    model.load_state_dict(state, strict=True)


def _download(spec: ModelSpec) -> Path:
    """Fetches torchvision weights into the hub cache; offline, says how to get them in."""
    target = spec.weights.path()
    if target.is_file():
        return target
    url = _torchvision_weights(spec.weights.ref).url
    try:
        torch.hub.load_state_dict_from_url(url, progress=True, check_hash=True,
                                           weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any network/hash failure reads the same to a user
        reason = first_line(exc)[:120]
        raise WeightsError(
            f"weights for model {spec.name} are not in the cache ({target}) and could not be "
            f"downloaded ({reason}); connect to the network once or pass --weights FILE"
        ) from None
    return target


def load_model(spec: ModelSpec, weights: Path | None = None) -> nn.Module:
    """Builds ``spec``'s network with trained weights, in eval mode on the CPU."""
    path = Path(weights) if weights is not None else (
        _download(spec) if spec.weights.kind == "torchvision" else spec.weights.path())
    if spec.weights.format == "tflite":
        return load_tflite_person_model(path, spec.fixed_input)
    if spec.weights.format == "fused":
        return _load_fused(spec, weights)
    if spec.weights.format == "kept":
        return _load_kept(spec, path)
    state = read_state_dict(path)
    has_aux = any(k.startswith("net.aux_classifier.") or k.startswith("aux_classifier.")
                  for k in state)
    model = spec.build(spec.num_classes)
    if spec.weights.kind == "torchvision":
        state = {k if k.startswith("net.") else f"net.{k}": v for k, v in state.items()}
        if not has_aux:
            # A user checkpoint trained without the auxiliary head: drop it from the model.
            model.net.aux_classifier = None
    _fit_state_dict(model, state, spec, path)
    return model.eval()
