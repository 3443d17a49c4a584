"""Peak memory and time of ``process --tile`` on a big picture, against the untiled path
(issue 25, "Big pictures"; BENCHMARKS.md, "Big pictures: --tile").

Each run is a fresh ``python -m livesegment process`` (the untiled one through the same
command with the still limit lifted, as the budget refuses 108 MP untiled), its peak RSS read
from the kernel (wait4) and its wall time from the clock. The first row is the program's
floor: torch, livesegment and the model loaded, no picture.

    OMP_NUM_THREADS=1 python benchmarks/tile_memory.py [--width 12000 --height 9000]
        [--size 256 512] [--skip-untiled]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT.parent / "shared" / "datasets" / "ccp-person" / "images" / "0002.jpg"
FLOOR = ("import sys; from livesegment.core.segmenter import Segmenter; "
         "Segmenter.create(sys.argv[1], 'cpu')")
UNLIMITED = ("import sys, livesegment.pipeline.job as j; j.MAX_PICTURE_PIXELS = 10**9; "
             "from livesegment.cli import main; sys.exit(main(sys.argv[1:]))")


def big_picture(path: Path, width: int, height: int) -> Path:
    """A photo of people scaled up to ``width`` x ``height`` with a fine grid drawn over it
    (detail that only full resolution keeps), as a JPEG."""
    if PHOTO.is_file():
        picture = cv2.resize(cv2.imread(str(PHOTO)), (width, height),
                             interpolation=cv2.INTER_LINEAR)
    else:
        picture = np.full((height, width, 3), 120, np.uint8)
    picture[::64] = 255
    picture[:, ::64] = 255
    cv2.imwrite(str(path), picture, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


def made_apart(path: Path, width: int, height: int) -> Path:
    """:func:`big_picture` made in a process of its own: a child's peak RSS as wait4 reports
    it starts from its parent's high-water mark (Linux keeps it across exec), so this process
    must never hold the picture (a 24000x18000 one is 1.3 GB) before it measures anyone."""
    maker = multiprocessing.get_context("spawn").Process(target=big_picture,
                                                         args=(path, width, height))
    maker.start()
    maker.join()
    if maker.exitcode:
        sys.exit(f"making the {width}x{height} picture failed")
    return path


def measured(command: list[str]) -> tuple[int, float, float]:
    """Exit status, peak RSS (GB) and wall time (s) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace").strip()
    if status:
        print(f"  exit {os.waitstatus_to_exitcode(status)}: {err[-300:]}", file=sys.stderr)
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 2**20, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=12000)
    parser.add_argument("--height", type=int, default=9000)
    parser.add_argument("--size", type=int, nargs="+", default=[256],
                        help="tile sides to measure (--size of process --tile)")
    parser.add_argument("--model", default="espnetv2-voc-fused")
    parser.add_argument("--skip-untiled", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = made_apart(Path(tmp) / "big.jpg", args.width, args.height)
        common = [str(src), "-o", str(Path(tmp) / "out.png"), "--model", args.model,
                  "--device", "cpu", "--quiet", "--overwrite"]
        runs = [("program floor (torch, livesegment, the model)",
                 [sys.executable, "-c", FLOOR, args.model])]
        runs += [] if args.skip_untiled else [
            ("untiled (default size, refined)", [sys.executable, "-c", UNLIMITED, "process",
                                                 *common])]
        runs += [(f"--tile --size {s}", [sys.executable, "-m", "livesegment", "process",
                                         *common, "--tile", "--size", str(s)])
                 for s in args.size]
        print(f"{args.width}x{args.height} ({args.width * args.height / 1e6:.0f} MP), "
              f"{args.model}, CPU")
        print("| run | exit | peak RSS | wall |\n|---|---:|---:|---:|")
        for name, command in runs:
            code, peak_gb, wall = measured(command)
            print(f"| {name} | {code} | {peak_gb:.2f} GB | {wall:.1f} s |", flush=True)


if __name__ == "__main__":
    main()
