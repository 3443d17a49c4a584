"""Peak memory and outcome of the hostile inputs (issue 27) in one checkout or several: each
case is a fresh ``python -m livesegment`` under an address-space cap (so a blow-up fails
inside the cap instead of taking the machine), its peak RSS read from the kernel (wait4).

    git worktree add ../before e393695
    python benchmarks/hostile_inputs.py ../before . --cap-gb 8

The crafted files are made in a temporary folder: a 1x200000 strip (662 bytes), PNG headers
claiming 100000x100000 (69 bytes) and a real 20000x20000 picture of zeros (1.2 MB), a GIF
claiming a 16000x16000 canvas (85 bytes), and the largest inputs still accepted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import cv2
import numpy as np

FAST = ["--device", "cpu", "--quiet"]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(path: Path, width: int, height: int, real: bool) -> Path:
    """A PNG header claiming ``width`` x ``height``; ``real``: with every row there (zeros,
    compressed row by row, so making it takes no memory)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    if real:
        z, row, parts = zlib.compressobj(9), b"\0" * (1 + 3 * width), []
        parts = [z.compress(row) for _ in range(height)] + [z.flush()]
        idat = b"".join(parts)
    else:
        idat = zlib.compress(b"\0" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)
                     + _chunk(b"IEND", b""))
    return path


def gif(path: Path, width: int, height: int, frames: int) -> Path:
    """An animated GIF whose canvas is ``width`` x ``height``, with 1x1 pictures on it."""
    data = (b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0)
            + b"\x00\x00\x00\xff\xff\xff" + b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")
    for i in range(frames):
        data += (b"!\xf9\x04\x00\x0a\x00\x00\x00" + b","
                 + struct.pack("<HHHHB", i % width, i % height, 1, 1, 0) + b"\x02\x02\x44\x01\x00")
    path.write_bytes(data + b";")
    return path


def make_files(d: Path) -> dict[str, Path]:
    cv2.imwrite(str(d / "strip.png"), np.zeros((1, 200_000, 3), np.uint8))
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    cv2.imwrite(str(d / "photo48.jpg"), cv2.resize(small, (8000, 6000)))
    busy = rng.integers(0, 255, (600, 800, 3), dtype=np.uint8)  # many classes on a street model
    cv2.imwrite(str(d / "busy48.jpg"), cv2.resize(busy, (8000, 6000),
                                                  interpolation=cv2.INTER_NEAREST))
    clip = d / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    for i in range(5):
        writer.write(cv2.resize(np.roll(small, i, 1), (320, 240)))
    writer.release()
    return {"strip": d / "strip.png", "photo48": d / "photo48.jpg", "clip": clip,
            "busy48": d / "busy48.jpg",
            "claim": png(d / "claim.png", 100_000, 100_000, real=False),
            "zeros": png(d / "zeros.png", 20_000, 20_000, real=True),
            "gifbomb": gif(d / "gifbomb.gif", 16_000, 16_000, 2),
            "gif4k": gif(d / "gif4k.gif", 4096, 2160, 40)}


def cases(f: dict[str, Path], out: Path) -> list[tuple[str, list[str]]]:
    o = str(out)
    return [
        ("1x200000 strip as input", ["process", str(f["strip"]), "-o", o + ".png"]),
        ("strip as replace background", ["process", str(f["clip"]), "-o", o + ".mp4",
                                         "--effect", "replace", "--background",
                                         str(f["strip"])]),
        ("PNG header 100000x100000", ["process", str(f["claim"]), "-o", o + ".png"]),
        ("PNG 20000x20000 of zeros (1.2 MB)", ["process", str(f["zeros"]), "-o", o + ".png"]),
        ("GIF canvas 16000x16000 (85 B)", ["process", str(f["gifbomb"]), "-o", o + ".mp4"]),
        ("--feather 1000000000", ["process", str(f["clip"]), "-o", o + ".mp4", "--effect",
                                  "blur", "--feather", "1000000000"]),
        ("live --threads 5000", ["live", "--source", str(f["clip"]), "-o", o + ".mp4",
                                 "--threads", "5000", "--duration", "2"]),
        ("48 MP photo, replace + side-by-side", ["process", str(f["photo48"]), "-o",
                                                 o + ".png", "--effect", "replace",
                                                 "--background", str(f["photo48"]),
                                                 "--feather", "15", "--view", "side-by-side"]),
        ("48 MP, many classes (cityscapes), replace + side-by-side",
         ["process", str(f["busy48"]), "-o", o + ".png", "--model", "espnetv2-cityscapes",
          "--effect", "replace", "--background", str(f["busy48"]), "--feather", "15",
          "--view", "side-by-side"]),
        ("4096x2160 GIF, 40 frames, replace + side-by-side",
         ["process", str(f["gif4k"]), "-o", o + ".mp4", "--effect", "replace",
          "--background", str(f["photo48"]), "--feather", "15", "--view", "side-by-side"]),
    ]


def run_case(repo: Path, args: list[str], cap_gb: float, timeout_s: float
             ) -> tuple[str, float, float, str]:
    """(exit status, peak RSS GB, seconds, last stderr line) of one fresh process."""
    cap = int(cap_gb * 2**30)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    env = {**os.environ, "PYTHONPATH": str(repo)}
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "livesegment", *args, *FAST], cwd=repo,
                            env=env, stderr=subprocess.PIPE, text=True, preexec_fn=limit)
    try:
        _, err = proc.communicate(timeout=timeout_s)
        status = str(proc.returncode)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        status = f"hung ({timeout_s:.0f} s)"
    elapsed = time.monotonic() - start
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # running max
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    return status, peak_gb, elapsed, (lines[-1][:110] if lines else "")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("repos", nargs="+", type=Path)
    p.add_argument("--cap-gb", type=float, default=8.0)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--only", help="run only the cases whose name contains this")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = make_files(Path(tmp))
        for repo in args.repos:
            for name, argv in cases(files, Path(tmp) / "out"):
                if args.only and args.only not in name:
                    continue
                # ru_maxrss of children is a running maximum: one measuring process per case.
                code = ("import sys, json; from benchmarks.hostile_inputs import run_case; "
                        "print(json.dumps(run_case(*json.loads(sys.argv[1]))))")
                res = subprocess.run([sys.executable, "-c", code, json.dumps(
                    [str(repo.resolve()), argv, args.cap_gb, args.timeout])],
                    cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True)
                status, peak, secs, last = json.loads(res.stdout)
                print(f"{repo.name:>12} | {name:<48} | exit {status:>4} | peak {peak:5.2f} GB"
                      f" | {secs:5.1f} s | {last}", flush=True)


if __name__ == "__main__":
    main()
