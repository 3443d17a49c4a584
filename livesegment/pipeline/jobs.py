"""The data a batch of files runs on, shared by the local batch runner and the Ray cluster runner.

All frozen and picklable: a :class:`JobSettings` travels to every worker, which builds its own
segmenter from it (a loaded model never crosses a process boundary), and a :class:`FileResult`
comes back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

if TYPE_CHECKING:  # torch stays unimported until a worker builds its model
    from livesegment.core.compose.overlay import OverlayStyle
    from livesegment.core.masks.smoothing import MaskOptions
    from livesegment.core.segmenter import Segmenter

Report = TypeVar("Report")
# "done" (local batch) and "ok" (Ray) both mean a complete output; each runner's summary line
# has always shown its own word. "interrupted" and "not started" come from the local batch,
# whose jobs run one after the other; a stopped Ray run reports "failed: interrupted".
Status = Literal["done", "ok", "skipped", "failed", "interrupted", "not started"]


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

    model: str = "espnetv2-voc"
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
class FileResult(Generic[Report]):
    """What became of one input, for the per-file summary: its status and a one-line message
    (why it failed or was skipped; notes on a file that was done).

    ``report``: the local runner's per-file report (``pipeline.job.JobReport`` from the
    CLI). ``frames``/``seconds``: what a Ray worker measured (its report stays on the worker).
    """

    source: Path | str
    output: Path
    status: Status
    message: str = ""
    report: Report | None = None
    frames: int = 0
    seconds: float = 0.0
