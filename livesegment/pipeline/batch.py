"""Many inputs, one after the other: a bad file is reported and the rest still run.

The runner knows nothing about models or codecs: it takes (input, output) jobs and a per-file
function, so the same jobs can later run on other workers (one per GPU, or Ray actors) with
only the loop below replaced.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from livesegment.errors import describe
from livesegment.pipeline.jobs import FileResult, Report


def run_batch(jobs: Sequence[tuple[Path | str, Path]],
              run_one: Callable[[Path | str, Path], Report],
              overwrite: bool = False, stop: threading.Event | None = None,
              interrupted: Callable[[Report], bool] = lambda report: False,
              ) -> list[FileResult[Report]]:
    """Runs ``run_one(source, output)`` for each job in order.

    An output that already exists is complete (outputs are renamed into place only when
    whole), so it is skipped unless ``overwrite``. Any exception from one job is recorded as
    that job's failure, its message in one line. Once ``stop`` is set, or a job reports itself
    ``interrupted``, the remaining jobs are marked "not started".
    """
    stop = stop or threading.Event()
    results: list[FileResult[Report]] = []
    for source, output in jobs:
        if stop.is_set():
            results.append(FileResult(source, output, "not started"))
            continue
        if output.exists() and not overwrite:
            results.append(FileResult(source, output, "skipped",
                                      "exists; --overwrite to redo it"))
            continue
        try:
            report = run_one(source, output)
        except KeyboardInterrupt:
            stop.set()
            results.append(FileResult(source, output, "interrupted"))
            continue
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the rest
            results.append(FileResult(source, output, "failed", describe(exc).splitlines()[0]))
            continue
        if interrupted(report):
            stop.set()
            results.append(FileResult(source, output, "interrupted", report=report))
        else:
            results.append(FileResult(source, output, "done", report=report))
    return results
