"""What ``process`` was asked to read: files, folders, globs, stream URLs and camera indices,
and where each one's output goes.

A folder stands for the videos and pictures directly in it; a pattern with ``*``, ``?`` or
``[`` is expanded here (quoted on the command line, so the shell leaves it to us, and it works
the same on Windows). URLs and camera indices stay strings: a URL is not a path.
"""

from __future__ import annotations

import glob
from pathlib import Path
from urllib.parse import urlsplit

from livesegment.errors import InputError, OutputError
from livesegment.io.images import IMAGE_SUFFIXES

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "srt://")
VIDEO_INPUT_SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".gif"})
# Containers kept when a folder of outputs is named after its inputs; others become .mp4.
KEPT_VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".webm", ".gif"})
DEFAULT_VIDEO_SUFFIX = ".mp4"

Source = Path | str  # a file, or a stream URL / camera index


def is_stream(spec: str) -> bool:
    return spec.lower().startswith(STREAM_SCHEMES)


# Streams sent as they happen (their clocks start anywhere); http(s) serves files as files.
REALTIME_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "udp://", "srt://")


def is_realtime(source: Source) -> bool:
    """A camera or a real-time stream: timed from its first frame, recorded without sound."""
    return isinstance(source, str) and (is_camera(source)
                                        or source.lower().startswith(REALTIME_SCHEMES))


def is_camera(spec: str) -> bool:
    return spec.isdigit()


def is_live(source: Source) -> bool:
    """A camera or a stream: recorded until it ends, ``--duration`` or Ctrl-C."""
    return isinstance(source, str)


def expand_inputs(specs: list[str]) -> list[Source]:
    """Each spec as the sources it stands for, in the order given (folders and globs sorted).

    A missing plain file is kept, so that it fails on its own, named, without stopping the
    others; a folder or pattern that matches nothing is an error at once.
    """
    sources: list[Source] = []
    for spec in specs:
        if is_camera(spec) or is_stream(spec):
            sources.append(spec)
        elif Path(spec).is_dir():
            found = media_in(Path(spec))
            if not found:
                raise InputError(f"no videos or pictures in folder {spec}")
            sources += found
        elif glob.has_magic(spec) and not Path(spec).exists():
            found = [Path(p) for p in sorted(glob.glob(spec, recursive=True))
                     if _is_media(Path(p))]
            if not found:
                raise InputError(f"no videos or pictures match {spec}")
            sources += found
        else:
            sources.append(Path(spec))
    return _unique(sources)


def media_in(folder: Path) -> list[Path]:
    """The videos and pictures directly in ``folder`` (not hidden, not our partial files)."""
    return sorted(p for p in folder.iterdir() if _is_media(p))


def _is_media(path: Path) -> bool:
    suffix = path.suffix.lower()
    return (path.is_file() and not path.name.startswith(".")
            and ".partial." not in path.name
            and (suffix in VIDEO_INPUT_SUFFIXES or suffix in IMAGE_SUFFIXES))


def _unique(sources: list[Source]) -> list[Source]:
    seen: set[str] = set()
    kept = []
    for source in sources:
        key = str(source.resolve()) if isinstance(source, Path) else source
        if key not in seen:
            seen.add(key)
            kept.append(source)
    return kept


def wants_folder(output: str, sources: list[Source]) -> bool:
    """``-o`` names a folder when it ends in a separator, is one already, or several inputs
    need names."""
    return output.endswith(("/", "\\")) or Path(output).is_dir() or len(sources) > 1


def output_name(source: Source) -> str:
    """An output file name for ``source``: its own stem, a suffix we can write."""
    if isinstance(source, str):
        if is_camera(source):
            return f"camera{source}{DEFAULT_VIDEO_SUFFIX}"
        stem = Path(urlsplit(source).path.rstrip("/")).stem or "stream"
        return f"{stem}{DEFAULT_VIDEO_SUFFIX}"
    suffix = source.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return source.name
    return source.stem + (suffix if suffix in KEPT_VIDEO_SUFFIXES else DEFAULT_VIDEO_SUFFIX)


def plan_outputs(sources: list[Source], output: str) -> list[tuple[Source, Path]]:
    """(source, output file) for each source. Several sources need a folder (made if absent);
    two sources that would write the same file are refused before any work."""
    if not sources:
        raise InputError("no input given: name files, a folder, a pattern, a URL or a camera "
                         "index, or use --sample")
    if not wants_folder(output, sources):
        return [(sources[0], Path(output))]
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"output {output} is a file; several inputs need a folder (end it "
                          "with /)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {folder}: {exc.strerror}") from None
    jobs = [(source, folder / output_name(source)) for source in sources]
    taken: dict[Path, Source] = {}
    for source, target in jobs:
        if target in taken:
            raise OutputError(f"{taken[target]} and {source} would both write {target}; "
                              "process them into different folders")
        taken[target] = source
    return jobs


def describe_source(source: Source) -> str:
    return f"camera {source}" if isinstance(source, str) and is_camera(source) else str(source)
