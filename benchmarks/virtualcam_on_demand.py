"""CPU time of ``livesegment live --virtual-camera --on-demand`` with and without a consumer.

The virtual camera is a registered pyvirtualcam backend whose device is a plain file, so this
runs without v4l2loopback; a "video call" is a second process holding that file open, which is
what the on-demand check looks for in /proc. Each run plays the bundled sample clip live for
``--seconds`` and reports the process's CPU seconds (user + system) per wall second.

    python benchmarks/virtualcam_on_demand.py --seconds 20
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyvirtualcam

from livesegment.cli import main
from livesegment.io.sample import sample_clip


class FileBackend:
    """Accepts frames and drops them; its device is a file a consumer can open."""

    path = ""

    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        self._device = device or FileBackend.path

    def send(self, frame):
        pass

    def close(self):
        pass

    def device(self):
        return self._device

    def native_fourcc(self):
        return None


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(seconds: float, consumer: bool, device: Path) -> dict:
    holder = None
    if consumer:
        holder = subprocess.Popen([sys.executable, "-c", "import sys, time; f = open(sys.argv[1]);"
                                   " time.sleep(3600)", str(device)])
    try:
        c0, t0 = cpu_seconds(), time.monotonic()
        code = main(["live", "--source", str(sample_clip()), "--virtual-camera", str(device),
                     "--virtual-camera-backend", "file", "--on-demand", "--duration",
                     str(seconds), "--quiet", "--device", "cpu"])
        cpu, wall = cpu_seconds() - c0, time.monotonic() - t0
    finally:
        if holder is not None:
            holder.kill()
            holder.wait()
    return {"consumer": consumer, "exit": code, "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
            "cores_busy": round(cpu / wall, 3)}


def main_() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    device = Path(tempfile.mkdtemp()) / "video-fake"
    device.write_bytes(b"")
    FileBackend.path = str(device)
    pyvirtualcam.register_backend("file", FileBackend)
    rows = []
    for _ in range(args.rounds):  # interleaved: this machine's speed drifts
        rows.append(run(args.seconds, True, device))
        rows.append(run(args.seconds, False, device))
    print(json.dumps(rows, indent=1))
    watched = [r["cores_busy"] for r in rows if r["consumer"]]
    idle = [r["cores_busy"] for r in rows if not r["consumer"]]
    print(f"cores busy with a consumer {watched}, without {idle}; "
          f"idle/watched {sum(idle) / sum(watched):.3f}")


if __name__ == "__main__":
    main_()
