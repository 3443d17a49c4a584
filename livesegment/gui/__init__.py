"""The Qt front end; the only package that imports Qt."""

from __future__ import annotations

import os
import sys

from livesegment.errors import DeviceError


def check_display() -> None:
    """Qt aborts the whole process, with no exception to catch, when it finds no display to
    open a window on; this says so in one line first (Linux: elsewhere a desktop session is
    always there). Imports no Qt, so a command can ask before it does any work."""
    if not sys.platform.startswith("linux"):
        return
    if any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        return
    raise DeviceError("no display to open a window on (DISPLAY and WAYLAND_DISPLAY are "
                      "unset); run it in a desktop session")
