"""Choosing the compute device and the precision that goes with it."""

from __future__ import annotations

import torch

from livesegment.core.models.catalog import DEVICE_CHOICES
from livesegment.errors import DeviceError



def resolve_device(choice: str) -> torch.device:
    """``auto`` takes CUDA where it exists; asking for CUDA without one is an error, not a fallback."""
    if choice not in DEVICE_CHOICES:
        raise DeviceError(f"unknown device '{choice}' (choose from {', '.join(DEVICE_CHOICES)})")
    cuda = torch.cuda.is_available()
    if choice == "cuda" and not cuda:
        raise DeviceError(
            "CUDA was requested but no CUDA GPU is available to torch "
            f"{torch.__version__}; use --device cpu"
        )
    return torch.device("cuda" if choice == "cuda" or (choice == "auto" and cuda) else "cpu")


def inference_dtype(device: torch.device) -> torch.dtype:
    """Half precision on CUDA (tensor cores, half the memory traffic); float32 on the CPU."""
    return torch.float16 if device.type == "cuda" else torch.float32


def available_devices() -> list[str]:
    """Devices worth offering in a selector: CUDA only where it exists."""
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def offline_streams(device: torch.device) -> int:
    """How many frames offline work keeps in the model at once.

    Two on the CPU: ESPNetv2's small layers leave cores idle within one frame, and two frames
    in flight gave 1.35x the model throughput of one on 2 cores (BENCHMARKS.md). One on CUDA,
    where a single stream keeps the GPU busy and a second has not been measured.
    """
    return 1 if device.type == "cuda" else 2


def encoder_threads(device: torch.device) -> int:
    """x264's thread count for offline output: 1 while the model runs on the CPU (it needs the
    cores), 0 (x264 picks: 1.5x the cores) when it runs on CUDA and the cores are free.

    With the model's cost taken away, a 720p pipeline on 2 cores ran 34-36 fps with one
    encoder thread and 41-42 fps with x264's own choice; with more cores the gap widens, and
    on a GPU the encoder, not the model, would bound offline work (BENCHMARKS.md).
    """
    return 0 if device.type == "cuda" else 1
