"""Reading a checkpoint without ever running code from it.

Every weights or model file the program opens comes through :func:`load_plain`:
``torch.load(weights_only=True)`` admits tensors, numbers, strings, lists and dicts only, so a
file that would run code when unpickled is refused, with a message that says so.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from livesegment.errors import WeightsError, first_line


def load_plain(path: Path, what: str = "weights file") -> object:
    """The plain data in a ``torch.save`` file (tensors, numbers, strings, lists, dicts)."""
    if not path.exists():
        raise WeightsError(f"{what} not found: {path}")
    if not path.is_file():
        raise WeightsError(f"{what.split()[0]} path is not a file: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        imports = _code_it_would_run(path)
        if imports is not None:
            named = f" ({', '.join(imports[:3])})" if imports else ""
            raise WeightsError(
                f"refusing to load {path}: it contains Python objects that would run code when "
                f"loaded{named}; only plain tensor state dicts are accepted"
            ) from None
        raise WeightsError(f"{path} is not a PyTorch weights file (unreadable data)") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise WeightsError(f"{path} is not a PyTorch weights file ({first_line(exc)})") from None


def _code_it_would_run(path: Path) -> list[str] | None:
    """What a refused file would import when unpickled, or ``None`` if it is not a pickle.

    Only to word the refusal (nothing is executed): such a file is an attack or a pickled
    object, not a damaged state dict. torch's own static scan reads ``torch.save`` checkpoints;
    it does not read bare pickles (``pickle.dump``), which can only be told apart by their
    protocol header, and are refused without naming what they import.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
        if zipfile.is_zipfile(path):
            return torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # noqa: BLE001 - anything torch cannot parse is simply not a checkpoint
        return None
    return [] if head[:1] == b"\x80" else None  # PROTO opcode: a pickle, protocol 2 or later
