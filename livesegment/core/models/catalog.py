"""The names the command line offers, as plain data: ``--help`` and ``--version`` answer from
here without importing torch (2-3 s saved on every call).

The one list of model names: ``core/models/zoo.py`` builds its registry in this order and a test
checks that both agree, so a new model is added here and as a ``ModelSpec`` there.
"""

from __future__ import annotations

# Bundled models first; the torchvision ones are offered only where torchvision imports
# (core/models/zoo.py).
MODEL_NAMES = (
    "espnetv2-voc",
    "espnetv2-voc-fused",
    "espnetv2-cityscapes",
    "mediapipe-selfie",
    "mediapipe-selfie-landscape",
    "sinet-portrait",
    "lraspp-mobilenet-v3-large",
    "deeplabv3-mobilenet-v3-large",
    "deeplabv3-resnet50",
    "deeplabv3-resnet101",
    "fcn-resnet50",
    "fcn-resnet101",
)
# ESPNetv2's 21 classes with people fused from MediaPipe's selfie model in close-ups
# (BENCHMARKS.md, "People, as well as the package can"): person IoU 0.92 on street photos
# against 0.83, at ESPNetv2's own speed on wide scenes.
DEFAULT_MODEL = "espnetv2-voc-fused"
# What ``train`` fine-tunes by default: the fused model's own network, whose VOC weights
# transfer (the selfie half knows only people).
DEFAULT_TRAIN_BASE = "espnetv2-voc"
# Video-call mode's person model, chosen from BENCHMARKS.md "Portrait models" (speed, IoU).
DEFAULT_PORTRAIT_MODEL = "mediapipe-selfie-landscape"
DEVICE_CHOICES = ("auto", "cpu", "cuda")
BACKENDS = ("torch", "onnxruntime")
VIEWS = ("overlay", "mask", "side-by-side")
MASK_STYLES = ("ids", "color")
# Temporal smoothing of the masks by default: measured best (BENCHMARKS.md, "Stable, sharp masks").
DEFAULT_SMOOTHING = 0.9
# Live display paces (pipeline/live.py): each model result as it comes, or every camera frame
# painted with the newest mask.
LIVE_PACES = ("newest", "camera")
