"""The errors a user can cause, each carrying a one-line message meant for them.

Every layer raises these; the CLI prints ``livesegment: <message>`` and exits non-zero, the GUI
shows the same text in its status bar. Anything else escaping is a bug and keeps its traceback.
"""

from __future__ import annotations


class LivesegmentError(Exception):
    """Base class: ``str(error)`` is the whole user-facing message."""

    exit_code = 2


class InputError(LivesegmentError):
    """The input file, camera or option value cannot be used."""


class OutputError(LivesegmentError):
    """The output cannot be written where the user asked."""


class WeightsError(LivesegmentError):
    """Model weights are missing, unreadable, unsafe or for another architecture."""


class DeviceError(LivesegmentError):
    """The requested compute device is not available."""


class SourceLost(LivesegmentError):
    """A live source (camera, stream) stopped delivering frames."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (or its type's name): enough for one-line errors."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def describe(exc: BaseException) -> str:
    """A one-line message for any exception: ours verbatim, others prefixed by their type."""
    if isinstance(exc, LivesegmentError):
        return str(exc)
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
