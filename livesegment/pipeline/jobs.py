"""The data a batch of files runs on, shared by the local batch runner and the Ray cluster runner.

All frozen and picklable: a :class:`JobSettings` travels to every worker, which builds its own
segmenter from it (a loaded model never crosses a process boundary).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from livesegment.core.models.catalog import DEFAULT_MODEL

if TYPE_CHECKING:  # torch stays unimported until a worker builds its model
    from livesegment.core.compose.overlay import OverlayStyle
    from livesegment.core.masks.smoothing import MaskOptions
    from livesegment.core.segmenter import Segmenter

Status = Literal["ok", "skipped", "failed"]


@dataclass(frozen=True)
class FileJob:
    """One input file and where its annotated version goes."""

    input: Path
    output: Path


@dataclass(frozen=True)
class JobSettings:
    """Everything a worker needs to build the segmenter and overlay style of the run.

    ``factory``: builds ``(segmenter, style)`` instead of the named model (for models that are
    not in the zoo, and tests); it must be picklable (a module-level function).
    """

    model: str = DEFAULT_MODEL
    device: str = "auto"
    size: int | None = None
    weights: Path | None = None
    backend: str = "torch"
    classes: frozenset[int] | None = None
    opacity: float = 0.5
    masks: MaskOptions | None = None  # smoothing and refinement (None: off)
    factory: Callable[[], tuple[Segmenter, OverlayStyle]] | None = None

    def build(self) -> tuple[Segmenter, OverlayStyle]:
        if self.factory is not None:
            return self.factory()
        from livesegment.core.compose.overlay import OverlayStyle
        from livesegment.core.segmenter import Segmenter

        segmenter = Segmenter.create(self.model, self.device, self.size, self.weights,
                                     self.backend)
        spec = segmenter.spec
        return segmenter, OverlayStyle(spec.palette, spec.background, self.opacity,
                                       self.classes)


@dataclass(frozen=True)
class FileResult:
    """What became of one file, for the per-file summary."""

    input: Path
    output: Path
    status: Status
    message: str = ""
    frames: int = 0
    seconds: float = 0.0
