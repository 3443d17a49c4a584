"""What a label folder is made from: pictures copied in, or a video's frames written out.

The user's files are only ever read. Pictures are copied byte for byte (the reader turns them
upright by their EXIF as it does any picture); a video goes through the project's own video
reader (upright, damaged packets skipped) one frame at a time, so a long video never has to
fit in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from livesegment.errors import InputError, av_reason
from livesegment.io.datasets import labelfiles as files
from livesegment.io.datasets.folders import mask_key
from livesegment.io.images import IMAGE_SUFFIXES, decode_image, read_header
from livesegment.io.inputs import VIDEO_INPUT_SUFFIXES

# (done, total): pictures or frames written so far, and how many there will be (None where
# a video's container does not say). It may raise to stop: the folder is then removed.
Progress = Callable[[int, int | None], None]


def plan_sources(sources: Path | str | Sequence[Path | str]) -> tuple[list[Path], Path | None]:
    """(pictures, None) or ([], video) for what the user gave: a folder of pictures, a list
    of pictures, one picture or one video; anything else is a one-line InputError."""
    if isinstance(sources, (str, Path)):
        path = Path(sources)
        if not path.exists():
            raise InputError(f"input not found: {path}")
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file()
                           and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
            if not found:
                raise InputError(f"{path} holds no pictures "
                                 f"({', '.join(sorted(IMAGE_SUFFIXES))})")
            return found, None
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return [path], None
        return [], path  # a video, or found not to be one when it is opened
    pictures = [Path(p) for p in sources]
    if not pictures:
        raise InputError("no pictures given to label")
    for path in pictures:
        if not path.is_file():
            raise InputError(f"input not found: {path}")
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise InputError(f"{path} is not a picture ({', '.join(sorted(IMAGE_SUFFIXES))}); "
                             "give one video on its own")
    return list(dict.fromkeys(pictures)), None


def copy_pictures(pictures: list[Path], folder: Path, progress: Progress | None) -> None:
    """Each picture into images/ under a name whose mask name no other picture shares
    (``a.jpg`` and ``a.png`` would pair with one mask): later ones get ``-2``, ``-3`` ..."""
    taken: set[str] = set()
    for done, source in enumerate(pictures, 1):
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {source}: {av_reason(exc)}") from None
        if read_header(data, f"image {source}") is None:
            decode_image(data, f"image {source}")  # not a picture: a one-line InputError
        name, number = source.name, 1
        while mask_key(Path(name)) in taken:
            number += 1
            name = f"{source.stem}-{number}{source.suffix}"
        taken.add(mask_key(Path(name)))
        files.write_bytes(folder, folder / "images" / name, data)
        if progress is not None:
            progress(done, len(pictures))


def extract_frames(video: Path, folder: Path, every: int, progress: Progress | None) -> int:
    """Every ``every``-th frame as images/<stem>_<index:06d>.png (the index is the frame's
    own in the video); returns how many were written."""
    from livesegment.io.video.source import VideoFileSource

    if every < 1:
        raise InputError(f"every {every}: keep at least every first frame")
    try:
        source = VideoFileSource(video)
    except InputError as exc:
        if video.suffix.lower() in VIDEO_INPUT_SUFFIXES:
            raise
        raise InputError(f"{video} is not a picture or a video ({exc})") from None
    stated = stated_frames(source)
    total = -(-stated // every) if stated else None  # frames 0, every, 2*every ... kept
    written = 0
    try:
        for frame in source.frames():
            if frame.index % every:
                continue
            files.write_png(folder, folder / "images" / f"{video.stem}_{frame.index:06d}.png",
                            frame.bgr)
            written += 1
            if progress is not None:
                progress(written, total)
    finally:
        source.close()
    if not written:
        raise InputError(f"no frame could be read from video {video}")
    if progress is not None and total != written:  # the container's count was an estimate:
        progress(written, written)  # the end is known now, so a bar ends whole
    return written


def stated_frames(source) -> int | None:
    """How many frames the container says the video has: its frame count where that agrees
    with duration x rate (an AVI written with a millisecond time base counts the empty
    slots), else duration x rate; None where neither is stated (a stream, some MKVs)."""
    by_time = round(source.duration_s * float(source.rate_hint)) if source.duration_s > 0 else 0
    counted = source.stream.frames or 0
    if counted and (not by_time or abs(counted - by_time) <= max(2, by_time // 10)):
        return counted
    return by_time or None

