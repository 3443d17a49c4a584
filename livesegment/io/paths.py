"""Output paths that never lose data: checked before work starts, swapped in only when whole."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from livesegment.errors import InputError, OutputError


STDIN = Path("-")
NAME_MAX = 255  # bytes in one file name on Linux, macOS and Windows file systems


def ffmpeg_name(path: Path) -> str | None:
    """The name to give FFmpeg so it reads ``path`` as a local file: ``file:`` first, or
    ``10:30.mp4`` would be taken for a URL of protocol "10". ``-`` is standard input.
    ``None`` when the name is not valid UTF-8 (FFmpeg cannot be given it; open it in Python)."""
    if path == STDIN:
        return "pipe:0"
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return None
    return f"file:{path}"


def ffmpeg_target(path: Path | str, mode: str = "r"):
    """What to hand ``av.open`` so FFmpeg takes ``path`` as a local file whatever its name: a
    ``file:`` name, or a Python file object (closed by :func:`close_container`) for names not
    in UTF-8. A URL (a ``str`` with ``://``) goes to FFmpeg as it is."""
    if isinstance(path, str):
        return path
    name = ffmpeg_name(path)
    return name if name is not None else open(path, mode + "b")  # noqa: SIM115


def close_container(container, target) -> None:
    """Closes a container and the Python file under it, if any (PyAV leaves that open)."""
    try:
        container.close()
    finally:
        if hasattr(target, "close"):
            target.close()



def check_input(path: Path) -> None:
    """A readable file (or ``-``, standard input), or an :class:`InputError` saying what it
    is instead. Pipes and FIFOs are fine: the input is read once, from start to end."""
    if path == STDIN:
        if sys.stdin is None or sys.stdin.isatty():  # FFmpeg would wait on the keyboard forever
            raise InputError("input '-' is standard input, which is a terminal here; pipe a "
                             "video in (livesegment process - -o out.mp4 < in.mkv)")
        return
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
    check_writable(output)


def check_writable(final: Path, what: str = "output") -> None:
    """Refuses, before any work, a file whose folder we cannot write in: a hidden probe is
    made and removed beside it."""
    probe = partial_path(final, "probe")
    try:
        probe.touch()
        probe.unlink()
    except OSError as exc:
        parent = final.parent if str(final.parent) else Path(".")
        raise OutputError(f"{what} folder {parent} is not writable ({exc.strerror})") from None


def _fitted(final: Path, prefix: str, tail: str) -> Path:
    """``prefix + stem + tail + suffix`` beside ``final``, the stem shortened (by whole
    characters) so the name stays within NAME_MAX bytes: a 250-byte output name must not make
    its temporary name fail with "File name too long"."""
    stem = final.stem
    room = NAME_MAX - len(os.fsencode(prefix + tail + final.suffix))
    while len(os.fsencode(stem)) > room and stem:
        stem = stem[:-1]
    return final.with_name(f"{prefix}{stem}{tail}{final.suffix}")


def partial_path(final: Path, tag: str = "") -> Path:
    """A hidden sibling of ``final`` with the same suffix (muxers pick the format by suffix)."""
    return _fitted(final, ".", f".{tag or os.getpid()}.partial")


def interrupted_path(final: Path) -> Path:
    """Where a run stopped half-way leaves its playable output: beside, never over, ``final``."""
    return _fitted(final, "", ".partial")


@contextmanager
def atomic_target(final: Path, tmp: Path | None = None) -> Iterator[Path]:
    """Yields a temporary path (``tmp``, by default a hidden sibling of ``final``); on success
    it replaces ``final`` in one rename, else it's removed. ``tmp`` must be on ``final``'s
    file system for the rename to be atomic."""
    tmp = tmp or partial_path(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
