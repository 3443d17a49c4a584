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


def av_reason(exc: BaseException) -> str:
    """The words of an OS or FFmpeg failure, never its raw number: FFmpeg's codes are large
    negated tags (``[Errno 1330794744]`` is "Protocol not found") that mean nothing to a user.
    The path is left out (the caller names the file); FFmpeg's last log line is kept when it
    says more than the code (``[mov] opus only supported in MP4``)."""
    strerror = getattr(exc, "strerror", None)
    if not isinstance(strerror, str) or not strerror:
        return first_line(exc).split(": '")[0]
    log = getattr(exc, "log", None)
    if isinstance(log, tuple) and len(log) == 3 and isinstance(log[2], str) and log[2].strip():
        return f"{strerror} ({log[2].strip()})"
    return strerror


def describe(exc: BaseException) -> str:
    """A one-line message for any exception: ours verbatim, OS/FFmpeg failures in words with
    the file they concern, others prefixed by their type."""
    if isinstance(exc, LivesegmentError):
        return str(exc)
    strerror = getattr(exc, "strerror", None)
    if isinstance(strerror, str) and strerror:
        name = getattr(exc, "filename", None)
        return f"{av_reason(exc)}: {name}" if name else av_reason(exc)
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
