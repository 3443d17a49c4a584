"""A virtual webcam (v4l2loopback on Linux, OBS Virtual Camera on Windows/macOS) as a sink.

pyvirtualcam does the device work. It is GPL-2.0, so it is an optional extra
(``livesegment[virtualcam]``), imported only here and only when a virtual camera is asked for;
livesegment never bundles it. Without it, or without a loopback device, the user gets one line
saying what to install or run, never a traceback.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

from livesegment.errors import OutputError

INSTALL_HINT = ("the virtual camera needs pyvirtualcam (GPL-2.0, optional): "
                "pip install 'livesegment[virtualcam]'")


def setup_hint(system: str | None = None) -> str:
    """What to do when no virtual camera device exists, for this operating system."""
    system = system or platform.system()
    if system == "Linux":
        return ("create one with: sudo modprobe v4l2loopback exclusive_caps=1 "
                "card_label=livesegment (package v4l2loopback-dkms)")
    return "install OBS Studio and start its Virtual Camera once"


def require_pyvirtualcam() -> None:
    """Raises the install hint at once when the optional extra is missing."""
    import importlib.util

    if importlib.util.find_spec("pyvirtualcam") is None:
        raise OutputError(INSTALL_HINT)


class VirtualCamera:
    """One opened virtual webcam taking BGR frames of a fixed size.

    ``send`` hands a frame to the device and returns at once (the driver copies it); pacing
    and newest-wins belong to :class:`livesegment.pipeline.virtualcam.VirtualCameraFeed`.
    """

    def __init__(self, width: int, height: int, fps: float, device: str | None = None,
                 backend: str | None = None) -> None:
        try:
            import pyvirtualcam
        except ImportError:
            raise OutputError(INSTALL_HINT) from None
        if backend is not None and backend not in pyvirtualcam.camera.BACKENDS:
            known = ", ".join(sorted(pyvirtualcam.camera.BACKENDS)) or "none on this system"
            raise OutputError(f"unknown virtual camera backend '{backend}' (available: {known})")
        try:
            self._camera = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.BGR,
                                               device=device, backend=backend)
        except (RuntimeError, ValueError, OSError) as exc:
            where = f" {device}" if device else ""
            reason = " ".join(str(exc).split())
            raise OutputError(f"no virtual camera{where} could be opened ({reason}); "
                              f"{setup_hint()}") from None
        self.width, self.height, self.fps = width, height, fps
        self.device: str = self._camera.device
        self.backend: str = self._camera.backend

    def send(self, bgr: np.ndarray) -> None:
        self._camera.send(np.ascontiguousarray(bgr))

    def consumers(self) -> int | None:
        """How many other processes have the device open (Linux: from /proc), or ``None``
        where that cannot be known (then the camera is treated as always watched)."""
        return processes_holding(Path(self.device))

    def close(self) -> None:
        self._camera.close()


def processes_holding(path: Path, proc: Path = Path("/proc")) -> int | None:
    """Other processes with ``path`` open, found through their ``/proc/PID/fd`` links.

    This is how the on-demand mode learns that a video call opened or closed the camera; it
    costs about a millisecond for a few hundred processes, checked once a second.
    """
    if not proc.is_dir() or not path.exists():
        return None
    target = os.path.realpath(path)
    own = str(os.getpid())
    count = 0
    for pid in os.listdir(proc):
        if not pid.isdigit() or pid == own:
            continue
        try:
            fds = os.listdir(proc / pid / "fd")
        except OSError:  # gone, or another user's process
            continue
        for fd in fds:
            try:
                if os.readlink(proc / pid / "fd" / fd) == target:
                    count += 1
                    break
            except OSError:
                continue
    return count
