"""The About box's text: versions, the device in use, the default model's credit."""

from __future__ import annotations

import torch

from livesegment import __version__
from livesegment.core.segmenter import Segmenter


def about_text(segmenter: Segmenter | None) -> str:
    try:
        import torchvision

        vision = torchvision.__version__
    except (ImportError, RuntimeError):
        vision = "not installed"
    cuda = torch.version.cuda or "none"
    device = "none yet"
    if segmenter is not None:
        device = segmenter.device.type
        if segmenter.device.type == "cuda":
            device += f" ({torch.cuda.get_device_name(segmenter.device)})"
    return (f"livesegment {__version__}\n\n"
            f"torch {torch.__version__}, torchvision {vision}, CUDA {cuda}\n"
            f"Device in use: {device}\n\n"
            "Default model: ESPNetv2 (Mehta et al., CVPR 2019); weights from "
            "sacmehta/EdgeNets, MIT licence.")
