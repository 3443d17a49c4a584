"""The README's before/after pair: one frame, refinement off and on, cropped and enlarged.

    python benchmarks/mask_screenshots.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import av
import cv2
import torch

from livesegment.core.frames import Frame
from livesegment.core.compose.overlay import blend
from livesegment.core.segmenter import Segmenter, mask_labels

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "media" / "head-pose-face-detection-female-and-male.gif"


def main() -> int:
    seg = Segmenter.create("espnetv2-voc", "cpu")
    style = seg.default_style(0.6)
    with av.open(str(CLIP)) as c:
        bgr = next(f for i, f in enumerate(c.decode(video=0)) if i == 20).to_ndarray(
            format="bgr24")
    with torch.inference_mode():
        result = seg.infer(Frame(0, 0.0, bgr))
        for name, refine in (("masks-before", False), ("masks-after", True)):
            image = blend(result.pixels, mask_labels(result, refine), style).numpy()
            crop = image[20:250, 10:250]
            crop = cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
            cv2.imwrite(str(ROOT / "assets" / f"{name}.png"), crop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
