"""Output paths that never lose data: checked before work starts, swapped in only when whole."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from livesegment.errors import InputError, OutputError


def check_input(path: Path) -> None:
    """A readable regular file, or an :class:`InputError` saying what it is instead."""
    if not path.exists():
        raise InputError(f"input not found: {path}")
    if path.is_dir():
        raise InputError(f"input is a directory, not a file: {path}")
    if not os.access(path, os.R_OK):
        raise InputError(f"input is not readable: {path}")


def check_output(output: Path, inputs: tuple[Path, ...] = ()) -> None:
    """Refuses, before anything is written, an output that would clobber an input or can't be made."""
    for source in inputs:
        if output.resolve() == source.resolve() or (
            output.exists() and source.exists() and os.path.samefile(output, source)
        ):
            raise OutputError(f"output {output} is the input file; choose another name "
                              "(inputs are never overwritten)")
    if output.is_dir():
        raise OutputError(f"output {output} is a directory; give a file name")
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"output folder {parent} does not exist")
    probe = partial_path(output, "probe")
    try:
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"output folder {parent} is not writable ({exc.strerror})") from None


def partial_path(final: Path, tag: str = "") -> Path:
    """A hidden sibling of ``final`` with the same suffix (muxers pick the format by suffix)."""
    return final.with_name(f".{final.stem}.{tag or os.getpid()}.partial{final.suffix}")


def interrupted_path(final: Path) -> Path:
    """Where a run stopped half-way leaves its playable output: beside, never over, ``final``."""
    return final.with_name(f"{final.stem}.partial{final.suffix}")


@contextmanager
def atomic_target(final: Path) -> Iterator[Path]:
    """Yields a temporary path; on success it replaces ``final`` in one rename, else it's removed."""
    tmp = partial_path(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
