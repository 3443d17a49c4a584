"""Writing model files and training checkpoints so that a stop never leaves half a file.

Each file is written under a temporary name beside its target, flushed to the disk, then
renamed over the target in one step: a Ctrl-C, a crash or a full disk leaves the previous file
whole (and removes the temporary one). Checkpoints are model files (core/models/model_file.py)
with the training state as extra plain data, so ``last.pt`` loads like any model and resumes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from livesegment.core.models.model_file import ModelCard, pack, read_model_file
from livesegment.errors import InputError, OutputError
from livesegment.io.paths import atomic_target

STATE_KEY = "training_state"


def write_atomic(path: Path, obj: Any) -> None:
    """``torch.save(obj)`` to ``path`` via a temporary sibling and one rename."""
    try:
        with atomic_target(path) as tmp, open(tmp, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OutputError(f"cannot write {path} ({reason}); the previous file is kept") from None


def save_model(path: Path, card: ModelCard, state: dict[str, torch.Tensor],
               training_state: dict[str, Any] | None = None) -> None:
    """A model file; with ``training_state`` a checkpoint a run can resume from."""
    extra = {STATE_KEY: training_state} if training_state is not None else {}
    write_atomic(path, pack(card, state, **extra))


def read_checkpoint(path: Path) -> tuple[ModelCard, dict[str, torch.Tensor], dict[str, Any]]:
    """Card, weights and training state of a checkpoint written by :func:`save_model`."""
    card, content = read_model_file(path)
    state = content.get(STATE_KEY)
    if not isinstance(state, dict):
        raise InputError(f"{path} is a model file without training state: it cannot be "
                         "resumed (start a new run with it as --base)")
    return card, content["state_dict"], state
