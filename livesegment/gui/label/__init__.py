"""Labelling mode: pictures or a video's frames labelled with clicks, boxes and a brush,
into a folder that ``livesegment train`` and ``eval`` read as it is.

This package file imports no Qt, so the command line can ask where a label folder goes
before it opens a window."""

from __future__ import annotations

from pathlib import Path


def default_output(source: Path) -> Path:
    """Where a new label folder goes: beside the pictures or video, named after them."""
    source = Path(source)
    return source.parent / f"{source.stem if source.is_file() else source.name}-labels"

