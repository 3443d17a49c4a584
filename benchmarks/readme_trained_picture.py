"""README's picture for "Train your own classes": a model trained here, on frames labelled
with the project's own loop, shown on frames it never saw.

    python benchmarks/readme_trained_picture.py [-o assets/trained-car.jpg] [--minutes 3]

Footage: Intel's ``car-detection.mp4`` (CC BY 4.0, shippable with credit; see README's
Credits), cars crossing a car park seen from straight above, which the bundled models do
not see as cars. Its first ``CUT`` frames are the user's video: encoded with the project's
writer, made into a label folder (``LabelStore.create``, every ``EVERY``-th frame), labelled
on the keyframes below with the click selector (each object's clicks or box, chosen by
looking at the frames, written here as data), carried through the frames
(``carry_labels``) and trained on (``train_on_labels``, a time budget). The rest of the clip
is never labelled nor trained on: the picture shows the trained model
(``livesegment.load_model`` / ``segment`` / ``overlay``) on a frame from there and on two of
``person-bicycle-car-detection.gif`` (another car park, another car). There are no
human masks for this footage, so the script measures no accuracy: it prints the times, and
how much of each shown frame the trained model and the bundled one call "car".
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

import livesegment
from livesegment.core.select import Selector
from livesegment.io.datasets.labelclasses import LabelClass
from livesegment.io.datasets.labelstore import LabelStore
from livesegment.io.video.sink import VideoFileSink
from livesegment.pipeline.labelling import carry_labels, train_on_labels
from livesegment.pipeline.training.trainer import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
CLIP = MEDIA / "car-detection.mp4"
OTHER = MEDIA / "person-bicycle-car-detection.gif"  # another car park, from above, Intel too
RATE = Fraction(25, 2)  # the clip's 12.5 fps
CUT = 300    # frames [0, CUT) are the user's video; [CUT, end) are never labelled
EVERY = 2    # the label folder keeps every 2nd frame (150 frames)
CLASS = LabelClass("car", (240, 50, 230))


@dataclass(frozen=True)
class Prompt:
    """One object as a user starts it in the labelling window: clicks ``(x, y, include)``
    and/or a dragged box ``(x0, y0, x1, y1)``, in the frame's pixels."""

    clicks: tuple[tuple[int, int, bool], ...] = ()
    box: tuple[int, int, int, int] | None = None


# frame number -> the objects on it (the white car: one click finds it whole; the silver and
# the red car: a click selects only their roofs and side clicks add little, a box each does)
KEYFRAMES: dict[int, tuple[Prompt, ...]] = {
    86: (Prompt(clicks=((350, 80, True),)),),
    208: (Prompt(box=(85, 88, 245, 410)), Prompt(box=(318, 118, 478, 398))),
}


@dataclass(frozen=True)
class Shown:
    """A frame in the picture: ``clip``'s frame ``frame``, cropped to ``crop``
    ``(x0, y0, width, height)``."""

    clip: Path
    frame: int
    crop: tuple[int, int, int, int]


# frames the training never saw: two of the clip's held-out end, one of another clip (where
# the 3-minute model also marks the white bicycle, a thing no labelled frame shows)
SHOWN = (Shown(CLIP, 328, (0, 0, 432, 432)), Shown(CLIP, 340, (0, 0, 432, 432)),
         Shown(OTHER, 16, (0, 0, 480, 270)))
HEIGHT = 240  # each tile's height in the picture


@dataclass(frozen=True)
class Labelled:
    """The selector's part: what was given and how long the computer took."""

    clicks: int
    boxes: int
    seconds: float


def encode(path: Path, frames: list[np.ndarray]) -> Path:
    """The user's video: ``frames`` with the project's writer, at near-source quality."""
    height, width = frames[0].shape[:2]
    sink = VideoFileSink(path, width, height, 1 / RATE, RATE, crf=16)
    for i, frame in enumerate(frames):
        sink.write(frame, float(i / RATE))
    return sink.finish()


def key_of(store: LabelStore, frame: int) -> str:
    """The label folder's name for the clip's frame ``frame`` (images/<stem>_<frame>.png)."""
    key = next((k for k in store.keys() if k.endswith(f"_{frame:06d}.png")), None)
    if key is None:
        raise SystemExit(f"frame {frame} is not in {store.folder} (every {EVERY}-th is kept)")
    return key


def label_keyframes(store: LabelStore) -> Labelled:
    """Each keyframe's objects selected and accepted into the class, as the window does."""
    start = time.perf_counter()
    selector = Selector()
    clicks = boxes = 0
    for frame, objects in KEYFRAMES.items():
        key = key_of(store, frame)
        selector.set_image(store.picture(key))
        labels = np.zeros(store.size(key), np.uint8)
        for prompt in objects:
            mask = selector.predict([], box=prompt.box) if prompt.box else None
            for n in range(1, len(prompt.clicks) + 1):  # each click corrects the last mask
                mask = selector.predict(prompt.clicks[:n], previous=mask)
            labels[mask] = 1
            clicks, boxes = clicks + len(prompt.clicks), boxes + (prompt.box is not None)
        store.save_labels(key, labels)
    return Labelled(clicks, boxes, time.perf_counter() - start)


def carry(store: LabelStore) -> tuple[int, int, float]:
    """Every keyframe's labels carried through the video: frames carried, frames below the
    tracker's confidence (the window marks them for a look), seconds."""
    start = time.perf_counter()
    carried = doubtful = 0
    for frame in KEYFRAMES:
        result = carry_labels(store, key_of(store, frame))
        carried, doubtful = carried + len(result.frames), doubtful + len(result.needs_look)
    return carried, doubtful, time.perf_counter() - start


def crop(bgr: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``box`` of ``bgr`` scaled to the picture's tile height."""
    x0, y0, width, height = box
    size = (round(width * HEIGHT / height), HEIGHT)
    return cv2.resize(bgr[y0:y0 + height, x0:x0 + width], size, interpolation=cv2.INTER_AREA)


def shown_frame(shown: Shown) -> np.ndarray:
    for index, bgr in enumerate(livesegment.read_frames(shown.clip)):
        if index == shown.frame:
            return bgr
    raise SystemExit(f"{shown.clip.name} has no frame {shown.frame}")


def compose(model_file: Path, output: Path) -> list[str]:
    """Top row: frames never trained on; bottom row: the trained model's overlay of them.
    Returns a line per frame: the share the trained model and the bundled one call "car"."""
    trained, bundled = livesegment.load_model(str(model_file)), livesegment.load_model()
    ours = trained.spec.categories.index(CLASS.name)
    theirs = bundled.spec.categories.index("car")
    top, bottom, lines = [], [], []
    for shown in SHOWN:
        bgr = shown_frame(shown)
        labels = livesegment.segment(trained, bgr)
        base = livesegment.segment(bundled, bgr)
        top.append(crop(bgr, shown.crop))
        bottom.append(crop(livesegment.overlay(bgr, labels, trained), shown.crop))
        lines.append(f"{shown.clip.name} frame {shown.frame}: the trained model's 'car' "
                     f"{np.mean(labels == ours):.1%} of the frame, {bundled.spec.name}'s "
                     f"'car' {np.mean(base == theirs):.1%}")
    gap = np.full((HEIGHT, 6, 3), 255, np.uint8)
    rows = [np.hstack([x for tile in tiles for x in (tile, gap)][:-1]) for tiles in (top, bottom)]
    picture = np.vstack([rows[0], np.full((6, rows[0].shape[1], 3), 255, np.uint8), rows[1]])
    cv2.imwrite(str(output), picture, [cv2.IMWRITE_JPEG_QUALITY, 82])
    return lines


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "assets" / "trained-car.jpg")
    parser.add_argument("--minutes", type=float, default=3.0, help="the training's budget")
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: temp)")
    parser.add_argument("--model", type=Path, default=None,
                        help="only compose the picture, with a model this script trained before")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    if args.model is not None:
        for line in compose(args.model, args.output):
            print(line)
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="trained-picture-"))
    work.mkdir(parents=True, exist_ok=True)
    frames = list(livesegment.read_frames(CLIP))
    video = encode(work / "car-park.mp4", frames[:CUT])
    if any(s.clip == CLIP and s.frame < CUT for s in SHOWN):
        raise SystemExit(f"a shown frame is in the labelled part (frames below {CUT})")
    start = time.perf_counter()
    store = LabelStore.create(work / "car-park-labels", video, ["background", CLASS],
                              every=EVERY)
    made_s = time.perf_counter() - start
    labelled = label_keyframes(store)
    carried, doubtful, carry_s = carry(store)
    start = time.perf_counter()
    outcome = train_on_labels(store, work / "car-park.pt",
                              config=TrainConfig(time_s=args.minutes * 60))
    train_s = time.perf_counter() - start
    if outcome.model is None:
        raise SystemExit(f"training saved no model ({outcome.result.reason})")
    lines = compose(outcome.model, args.output)
    print(f"label folder: {len(store.keys())} frames of {CLIP.name} [0, {CUT}) in {made_s:.1f} s;"
          f" work folder {work}")
    print(f"labelling: {len(KEYFRAMES)} keyframes, {labelled.clicks} clicks and "
          f"{labelled.boxes} boxes, the selector's computing {labelled.seconds:.1f} s")
    print(f"carrying: {carried} frames carried ({doubtful} marked for a look) in {carry_s:.1f} s;"
          f" {len(store.labelled())} frames labelled in all")
    validation = outcome.result.validation
    print(f"training: {train_s:.0f} s ({args.minutes:g} min asked), {outcome.result.steps} "
          f"steps, stopped: {outcome.result.reason}; validation on held-back labelled frames "
          f"(carried labels, not human masks): {validation.get('miou', 'n/a')}")
    for line in lines:
        print(line)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1024:.0f} KB): frames never "
          f"labelled nor trained on ({CLIP.name}'s from [{CUT}, {len(frames)}), "
          f"{OTHER.name}'s); no human masks exist for them, so no accuracy is claimed")


if __name__ == "__main__":
    main()
