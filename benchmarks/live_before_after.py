"""Live mode of two checkouts, alternating fresh processes: the same ``bench.live_latency``
call (720p synthetic camera at 30 fps, espnetv2-voc, 10 s) run by each in turn, so a drifting
machine hits both alike.

    git worktree add ../before da8579f
    python benchmarks/live_before_after.py ../before . --masks on --rounds 3
"""

from __future__ import annotations

import argparse
import subprocess
import sys

RUN = r'''
import json, sys
from livesegment.cli.allocator import keep_freed_memory
keep_freed_memory()
from livesegment.core.segmenter import Segmenter
from livesegment.core.masks.smoothing import MASKS_OFF, MaskOptions
from livesegment.pipeline import bench
masks = MaskOptions(0.9, True) if sys.argv[1] == "on" else MASKS_OFF
seg = Segmenter.create("espnetv2-voc", "cpu")
seg.warm_up(720, 1280)
r = bench.live_latency(seg, seg.default_style(), 1280, 720, seconds=10, masks=masks)
keys = ("inference_fps", "latency_mean_ms", "latency_p95_ms", "latency_max_ms", "shown")
print(json.dumps({k: round(r[k], 1) for k in keys} | {"shown_fps": round(r["shown"] / 10, 1)}))
'''


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--masks", choices=("on", "off"), default="on")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    for _ in range(args.rounds):
        for name, path in (("before", args.before), ("after", args.after)):
            out = subprocess.run([sys.executable, "-c", RUN, args.masks], cwd=path, text=True,
                                 capture_output=True,
                                 env={"PYTHONPATH": path, "PATH": "/usr/bin:/bin"})
            print(name, out.stdout.strip() or out.stderr[-400:], flush=True)


if __name__ == "__main__":
    main()
