"""Person IoU against human labels, per model and size, on photos and on a wide scene.

    python benchmarks/person_accuracy.py [--limit N] [--part table|sweep|speed]

* photos: ``../shared/datasets/ccp-person`` (201 street photos, one full-body person each,
  human-labelled; 255 = ignore);
* wide scene: the same human-made person masks, cut out and pasted small (18-45 % of the
  frame's height, two people a frame, walking across) into 50 frames of five DAVIS 2016 clips
  (854x480 outdoor scenes without people: car-shadow, which has passers-by, is left out), so
  every frame has exact labels;
* mosaic: the photos shrunk to a third of an 854x480 frame's height, ten to a frame, each in
  its own surroundings (a crowd seen from further away, without pasting). No labelled
  video of a wide scene with people is available to the project; this stands in for one.

Every model runs as ``process`` runs it on a still: its default size unless given, the
default edge refinement on. IoU is pooled (all intersections over all unions); the mean of
the per-picture IoU is printed beside it. ``--part sweep`` tries the fused model's settings
(core/models/fused.py) on cached network outputs; ``--part speed`` times the networks alone
on 720p frames of a wide scene (the shared footage) and a close-up (the head-and-shoulders
GIF scaled to 720p). Results: BENCHMARKS.md, "People, as well as the package can".
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from livesegment.allocator import keep_freed_memory
from livesegment.core.frames import Frame
from livesegment.core.models import fused
from livesegment.core.segmenter import Segmenter, mask_labels

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PHOTOS = SHARED / "datasets" / "ccp-person"
DAVIS = SHARED / "datasets" / "davis-2016" / "JPEGImages" / "480p"
MODELS = (("espnetv2-voc", 256), ("espnetv2-voc", 384), ("mediapipe-selfie", None),
          ("mediapipe-selfie-landscape", None), ("sinet-portrait", None),
          ("espnetv2-voc-fused", 256))
UNLABELLED_PEOPLE = ("car-shadow",)  # real pedestrians in the background, not in any mask
Sample = tuple[np.ndarray, np.ndarray]  # BGR picture, 0/1/255 person labels


def photos(limit: int | None = None) -> list[Sample]:
    names = sorted((PHOTOS / "images").glob("*.jpg"))[:limit]
    return [(cv2.imread(str(p)), cv2.imread(str(PHOTOS / "masks" / f"{p.stem}.png"), 0))
            for p in names]


def _cut_out(sample: Sample, height: int) -> Sample:
    """The person (and what they carry, ignored) cropped and scaled to ``height`` pixels."""
    bgr, labels = sample
    ys, xs = np.nonzero(labels != 0)
    crop = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    width = max(1, round(height * (np.ptp(xs) + 1) / (np.ptp(ys) + 1)))
    return (cv2.resize(bgr[crop], (width, height), interpolation=cv2.INTER_AREA),
            cv2.resize(labels[crop], (width, height), interpolation=cv2.INTER_NEAREST))


def wide_scene(people: list[Sample], frames_per_clip: int = 10) -> list[Sample]:
    """Two people a frame walking across DAVIS clips, seeded: the same frames every run."""
    rng = np.random.default_rng(2016)
    out = []
    clips = sorted(p for p in DAVIS.iterdir() if p.is_dir() and p.name not in UNLABELLED_PEOPLE)
    for clip_no, clip in enumerate(clips):
        walkers = []
        for k in range(2):
            person = people[(clip_no * 2 + k * 7) % len(people)]
            height = int(rng.uniform(0.18, 0.45) * 480)
            start, speed = rng.uniform(0, 854 - 100), rng.uniform(-12, 12)
            walkers.append((_cut_out(person, height), start, speed, rng.uniform(0.55, 0.95)))
        for f in range(frames_per_clip):
            bgr = cv2.imread(str(clip / f"{f * 5:05d}.jpg"))
            truth = np.zeros(bgr.shape[:2], np.uint8)
            for (body, labels), start, speed, foot in walkers:
                h, w = labels.shape
                x0 = int(np.clip(start + speed * f * 5, 0, 854 - w))
                y0 = int(np.clip(foot * 480 - h, 0, 480 - h))
                region = (slice(y0, y0 + h), slice(x0, x0 + w))
                keep = labels != 0
                bgr[region][keep] = body[keep]
                truth[region][keep] = labels[keep]
            out.append((bgr, truth))
    return out


def mosaic(people: list[Sample], columns: int = 5, rows: int = 2) -> list[Sample]:
    """Every photo once, shrunk to 240 px high and tiled ten to an 854x480 frame: people at a
    third of the frame's height (a third of their size in the photos at the model's input),
    each in their own surroundings rather than pasted."""
    tile_w, tile_h = 854 // columns, 480 // rows
    out = []
    for first in range(0, len(people) - columns * rows + 1, columns * rows):
        bgr = np.zeros((480, 854, 3), np.uint8)
        truth = np.full((480, 854), 255, np.uint8)  # the seams between tiles: not judged
        for k, (photo, labels) in enumerate(people[first:first + columns * rows]):
            y, x = (k // columns) * tile_h, (k % columns) * tile_w
            width = min(tile_w, round(photo.shape[1] * tile_h / photo.shape[0]))
            x += (tile_w - width) // 2
            bgr[y:y + tile_h, x:x + width] = cv2.resize(photo, (width, tile_h),
                                                        interpolation=cv2.INTER_AREA)
            truth[y:y + tile_h, x:x + width] = cv2.resize(labels, (width, tile_h),
                                                          interpolation=cv2.INTER_NEAREST)
        out.append((bgr, truth))
    return out


def person_iou(masks: list[np.ndarray], samples: list[Sample]) -> tuple[float, float]:
    """Pooled IoU and the mean of per-picture IoU, ignoring 255."""
    inter = union = 0
    each = []
    for found, (_, truth) in zip(masks, samples):
        valid = truth != 255
        i = int((found & (truth == 1) & valid).sum())
        u = int(((found | (truth == 1)) & valid).sum())
        inter, union = inter + i, union + u
        each.append(i / u if u else 1.0)
    return inter / max(union, 1), float(np.mean(each))


def masks_of(seg: Segmenter, samples: list[Sample], refine: bool = True) -> list[np.ndarray]:
    person = seg.spec.class_id("person")
    return [mask_labels(seg.infer(Frame(0, 0.0, bgr)), refine).numpy() == person
            for bgr, _ in samples]


def part_table(sets: dict[str, list[Sample]], only: str | None = None) -> None:
    print(f"{'model':<30}{'size':>6}" + "".join(f"{k + ' pooled':>16}{'mean':>8}" for k in sets))
    for name, size in MODELS:
        if only and name != only:
            continue
        seg = Segmenter.create(name, "cpu", size)
        row = f"{name:<30}{str(size or seg.spec.fixed_input):>6}"
        for samples in sets.values():
            pooled, mean = person_iou(masks_of(seg, samples), samples)
            row += f"{pooled:>16.3f}{mean:>8.3f}"
        print(row, flush=True)


def part_sweep(sets: dict[str, list[Sample]]) -> None:
    """The fused model's settings on cached outputs of both networks (refinement on)."""
    seg = Segmenter.create("espnetv2-voc-fused", "cpu")
    net = seg.model
    cache: dict[str, list] = {}
    for key, samples in sets.items():
        rows = []
        for bgr, _ in samples:
            result = seg.infer(Frame(0, 0.0, bgr))
            with torch.inference_mode():
                saved = fused.CLOSE_UP_FROM, fused.CLOSE_UP_FULL
                fused.CLOSE_UP_FROM, fused.CLOSE_UP_FULL = -2.0, -1.0  # always run the selfie
                logits = net.main(_input(seg, bgr))
                probs = torch.softmax(logits.float(), 1)
                selfie = _selfie(net, _input(seg, bgr), probs.shape[-2:])
                fused.CLOSE_UP_FROM, fused.CLOSE_UP_FULL = saved
            rows.append((result, probs, selfie))
        cache[key] = rows
    grid = itertools.product((0.08, 0.12), (0.16, 0.20), (0.6, 0.8, 0.9, 1.0))
    for start, full, most in grid:
        if full <= start:
            continue
        fused.CLOSE_UP_FROM, fused.CLOSE_UP_FULL, fused.SELFIE_WEIGHT = start, full, most
        row = f"from {start:.2f} full {full:.2f} selfie {most:.1f}:"
        for key, samples in sets.items():
            masks = []
            for result, probs, selfie in cache[key]:
                weight = fused.scene_weight(probs[:, 15])
                logits = probs.log() if weight == 0 else fused.fuse_person(probs, selfie, 15,
                                                                            weight)
                done = type(result)(result.frame, logits, result.pixels)
                masks.append(mask_labels(done, True).numpy() == 15)
            row += f"  {key} {person_iou(masks, samples)[0]:.3f}"
        print(row, flush=True)


def _input(seg: Segmenter, bgr: np.ndarray) -> torch.Tensor:
    from livesegment.core.masks.preprocess import to_model_input

    x = to_model_input(torch.from_numpy(bgr), seg.input_size(*bgr.shape[:2]), seg.spec.mean,
                       seg.spec.std, seg.dtype)
    return x.contiguous(memory_format=torch.channels_last)


def _selfie(net: fused.FusedPerson, x: torch.Tensor, hw) -> torch.Tensor:
    rgb = torch.nn.functional.interpolate(x.float() * net.std + net.mean, size=net.person_hw,
                                          mode="bilinear", antialias=True).clamp_(0, 1)
    z = net.person(rgb.contiguous(memory_format=torch.channels_last))[:, 1:2]
    z = torch.nn.functional.interpolate(z, size=hw, mode="bilinear")
    return torch.sigmoid(z)[:, 0]


def part_speed(rounds: int = 5, frames: int = 20) -> None:
    """Network-only fps at 720p, interleaved rounds, one thread per frame as in process."""
    wide = []
    with av.open(str(SHARED / "media" / "people_walking_720p.avi")) as c:
        for f in itertools.islice(c.decode(video=0), frames):
            wide.append(f.to_ndarray(format="bgr24"))
    close = []
    with av.open(str(SHARED / "media" / "head-pose-face-detection-female-and-male.gif")) as c:
        for f in itertools.islice(c.decode(video=0), frames):
            close.append(cv2.resize(f.to_ndarray(format="bgr24"), (1280, 720)))
    segs = {name: Segmenter.create(name, "cpu", size) for name, size in MODELS}
    for seg in segs.values():
        seg.warm_up(720, 1280)
        if isinstance(seg.model, fused.FusedPerson):
            seg.model.person.prepare((1, 3, *seg.model.person_hw))
    times: dict[tuple, list[float]] = {}
    for r in range(rounds):
        for key, seg in (segs.items() if r % 2 == 0 else reversed(segs.items())):
            for scene, pictures in (("wide", wide), ("close-up", close)):
                t0 = time.perf_counter()
                for bgr in pictures:
                    seg.infer(Frame(0, 0.0, bgr))
                times.setdefault((key, seg.size, scene), []).append(
                    len(pictures) / (time.perf_counter() - t0))
    base = {s: np.median(times[("espnetv2-voc", 256, s)]) for s in ("wide", "close-up")}
    for (name, size, scene), fps in times.items():
        m = float(np.median(fps))
        print(f"{name:<30}{size:>5} {scene:<9} {m:7.1f} fps  {m / base[scene]:.2f}x "
              "espnetv2-voc@256")


def main() -> None:
    keep_freed_memory()
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int)
    parser.add_argument("--model", help="this model alone (table)")
    parser.add_argument("--part", choices=("table", "sweep", "speed"), default="table")
    args = parser.parse_args()
    if not PHOTOS.is_dir() or not DAVIS.is_dir():
        sys.exit(f"needs {PHOTOS} and {DAVIS}")
    torch.set_num_threads(1)
    people = photos(args.limit)
    sets = {"photos": people, "wide": wide_scene(photos()), "mosaic": mosaic(photos())}
    if args.part == "table":
        part_table(sets, args.model)
    elif args.part == "sweep":
        part_sweep(sets)
    else:
        part_speed()


if __name__ == "__main__":
    main()
