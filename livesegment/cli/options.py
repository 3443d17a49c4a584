"""The options several commands share, their argparse types, and what they turn into.

Imports no torch: building every parser must stay cheap (``--help``). The objects an option
stands for (an effect, a set of class ids, mask options) are made by the functions at the end,
which import what they need when a command runs.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from livesegment.cli.console import one_line
from livesegment.core.budget import MAX_SIZE
from livesegment.core.models.catalog import BACKENDS, DEFAULT_MODEL, DEVICE_CHOICES
from livesegment.errors import InputError


class Parser(argparse.ArgumentParser):
    """argparse with its errors on one line, as every other refusal is: a usage block before
    the reason buried it."""

    def error(self, message: str):
        self.exit(2, f"livesegment: {one_line(message)} (see '{self.prog} --help')\n")


# --------------------------------------------------------------------------- numeric ranges


@dataclass(frozen=True)
class Range:
    """Where a numeric option makes sense; ``open_low``/``open_high`` leave that end out."""

    low: float
    high: float
    unit: str = ""
    open_low: bool = False
    open_high: bool = False

    def holds(self, value: float) -> bool:
        return (math.isfinite(value)
                and (self.low < value if self.open_low else self.low <= value)
                and (value < self.high if self.open_high else value <= self.high))

    def __str__(self) -> str:
        left_out = [_plain(end) for end, out in ((self.low, self.open_low),
                                                 (self.high, self.open_high)) if out]
        return (f"{_plain(self.low)}..{_plain(self.high)}{' ' + self.unit if self.unit else ''}"
                + (f" ({' and '.join(left_out)} excluded)" if left_out else ""))


def _plain(value: float) -> str:
    """1000 and 31622400 as written, not 1e+03 or 3.16224e+07."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


CPUS = os.cpu_count() or 1
YEAR_S = 366 * 24 * 3600
# Every numeric option by its argparse ``dest``, checked before a command runs (main): beyond
# these, widths made OpenCV fail to allocate, times that are not numbers were taken as "no
# limit", and thousands of workers or threads hung the run. tests/cli/test_numeric_options.py
# finds every numeric option in the parser and fails when one is missing here.
NUMBER_RANGES: dict[str, Range] = {
    "size": Range(1, MAX_SIZE, "pixels"),  # the model's own minimum is checked when it loads
    "opacity": Range(0, 1),
    "smoothing": Range(0, 1),
    "blur_strength": Range(0, 500, "pixels", open_low=True),
    "feather": Range(0, 1000, "pixels"),
    "grow": Range(-1000, 1000, "pixels"),
    "threshold": Range(0, 1, open_high=True),
    "workers": Range(1, max(2, CPUS), f"(this machine has {CPUS} cores)"),
    "threads": Range(1, CPUS, f"per worker (this machine has {CPUS} cores)"),
    "start": Range(0, YEAR_S, "s"),
    "end": Range(0, YEAR_S, "s", open_low=True),
    "duration": Range(0, YEAR_S, "s", open_low=True),
    "crf": Range(0, 63),  # the widest encoder's scale; each codec's own is checked after
    "frames": Range(1, 100_000),
    "rounds": Range(1, 100),
    "live_seconds": Range(0, 3600, "s", open_low=True),
    # eval
    "worst_count": Range(1, 100, "pictures"),
    "tolerance": Range(0, 100, "pixels"),
    "min_area": Range(1, 10**8, "pixels"),
    # train and export
    "time": Range(0, YEAR_S, "s", open_low=True),
    "epochs": Range(1, 100_000),
    "val": Range(0, 1, "of the pictures", open_low=True, open_high=True),
    "seed": Range(0, 2**32 - 1),  # numpy's and torch's seeds alike
    "patience": Range(0, 100_000, "validations"),
    "batch": Range(1, 1024, "pictures"),
    "width": Range(1, MAX_SIZE, "pixels"),
}


def check_numbers(args: argparse.Namespace) -> None:
    """Refuses, before anything runs, a numeric option outside its :data:`NUMBER_RANGES`, in
    one line naming the option and the range."""
    for dest, allowed in NUMBER_RANGES.items():
        value = getattr(args, dest, None)
        if isinstance(value, (int, float)) and not allowed.holds(value):
            raise InputError(f"--{dest.replace('_', '-')} {value} is outside {allowed}")


# --------------------------------------------------------------------------- argparse types


def fraction(name: str) -> Callable[[str], float]:
    """An argparse type for a value in 0..1 whose errors name the option's meaning."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} {text!r} is not a number") from None
        if not 0.0 <= value <= 1.0:
            raise argparse.ArgumentTypeError(f"{name} {value} is outside 0..1")
        return value

    return parse


opacity = fraction("opacity")
smoothing = fraction("smoothing")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be positive")
    return value


def seconds(text: str) -> float:
    """``90``, ``1:30``, ``0:01:30.5`` -> seconds."""
    try:
        parts = [float(part) for part in text.split(":")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"time {text!r} is not seconds or [hh:]mm:ss") from None
    if len(parts) > 3 or any(part < 0 or not math.isfinite(part) for part in parts):
        raise argparse.ArgumentTypeError(f"time {text!r} is not seconds or [hh:]mm:ss")
    total = 0.0
    for part in parts:
        total = total * 60 + part
    return total


def size_or_auto(text: str) -> int | str:
    return "auto" if text.strip().lower() == "auto" else positive_int(text)


def effect_list(text: str) -> tuple[str, ...]:
    from livesegment.core.compose.effects import EFFECT_NAMES

    names = tuple(n.strip().lower() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in EFFECT_NAMES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"unknown effect '{','.join(unknown) or text}' "
                                         f"(choose from {', '.join(EFFECT_NAMES)})")
    return names


def number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


# --------------------------------------------------------------------------- option groups


def add_model_options(p: argparse.ArgumentParser, default: str | None = DEFAULT_MODEL,
                      default_help: str = f"default {DEFAULT_MODEL}",
                      auto_size: bool = False, positional: bool = False) -> None:
    """``--model`` (or a MODEL argument where the model is what the command is about, as in
    ``eval``), size, device, weights and backend."""
    if positional:
        p.add_argument("model", metavar="MODEL", help="model name (see 'livesegment models') "
                       "or a model file made by 'livesegment train'")
    else:
        p.add_argument("--model", default=default,
                       help=f"model name ({default_help}; see 'livesegment models') or a "
                       "model file made by 'livesegment train'")
    p.add_argument("--size", type=size_or_auto if auto_size else positive_int,
                   help="inference short side in pixels (default: the model's)" +
                   ("; auto: the largest that keeps up with the camera" if auto_size else ""))
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES,
                   help="compute device (default auto: CUDA if present)")
    p.add_argument("--weights", type=Path, help="state dict file for the chosen architecture")
    p.add_argument("--backend", default="torch", choices=BACKENDS,
                   help="inference engine (onnxruntime: CPU only, needs livesegment[onnx])")


def add_smoothing_options(p: argparse.ArgumentParser) -> None:
    from livesegment.core.models.catalog import DEFAULT_SMOOTHING

    p.add_argument("--smoothing", type=smoothing, default=DEFAULT_SMOOTHING, metavar="S",
                   help="temporal smoothing of the masks, 0..1 (0 = off; default "
                   f"{DEFAULT_SMOOTHING}): still, uncertain pixels stop flickering")
    p.add_argument("--refine", action=argparse.BooleanOptionalAction, default=True,
                   help="snap mask edges to the picture's edges (default on)")


def add_effect_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("effects")
    g.add_argument("--effect", type=effect_list, default=("overlay",),
                   help="overlay|blur|replace|color|alpha, or several in order such as "
                   "blur,overlay (default overlay); the background is every class not in "
                   "--classes")
    g.add_argument("--background", help="for replace: a picture, a video (looped) or "
                   "#RRGGBB; for color: #RRGGBB (default #00b140, green screen)")
    g.add_argument("--blur-strength", type=number, default=15.0,
                   help="blur: Gaussian sigma in pixels (default 15)")
    g.add_argument("--feather", type=int, default=0, help="soft edge width in pixels "
                   "(default 0: hard)")
    g.add_argument("--grow", type=int, default=0, help="move the edge out by this many pixels "
                   "(negative: in)")
    g.add_argument("--threshold", type=number, default=0.0, help="0..1: clear the soft "
                   "edge below this opacity (default 0)")


def add_worker_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=positive_int, metavar="N",
                   help="frames the model works on at once (default: 2 on a CPU with 2+ "
                   "cores; 1 on CUDA and with onnxruntime)")
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help="torch threads per worker (default: the cores shared out)")


# --------------------------------------------------------------------------- what they mean


def mask_options(args: argparse.Namespace):
    from livesegment.core.masks.smoothing import MaskOptions

    return MaskOptions(args.smoothing, args.refine, getattr(args, "tile", False))


def add_tile_option(p: argparse.ArgumentParser, more: str = "") -> None:
    p.add_argument("--tile", action="store_true",
                   help="big pictures at full detail: the model runs on overlapping tiles of "
                   "--size pixels at scale 1, blended without seams, in the memory of a band "
                   "of tiles (stills only; --refine does not apply)" + more)


def parse_classes(spec, text: str | None) -> set[int] | None:
    """``person,car`` or ``15,7`` (or a mix) -> class ids; ``None``/``all`` -> every class."""
    if text is None or text.strip().lower() == "all":
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError("--classes is empty; give names such as person,car, ids such as "
                         "15,7, or 'all'")
    return {_class_id(spec, n) for n in names}


def _class_id(spec, token: str) -> int:
    if not token.isdigit():
        return spec.class_id(token)
    if int(token) >= spec.num_classes:
        raise InputError(f"class id {token} is out of range for model {spec.name} "
                         f"(0..{spec.num_classes - 1}; see 'livesegment models {spec.name}')")
    return int(token)


def effect_from_args(args: argparse.Namespace, spec, style, selected):
    """The effect (or the plain overlay ``style``) that ``--effect`` and friends ask for."""
    from livesegment.core.compose.effects import (
        AlphaEffect, BlurEffect, Chain, Matte, OverlayEffect, ReplaceEffect, parse_colour, solid,
    )

    names = args.effect
    if args.background is not None and not {"replace", "color"} & set(names):
        raise InputError("--background is used by the replace and color effects only")
    if "replace" in names and args.background is None:
        raise InputError("the replace effect needs --background IMAGE|VIDEO|#RRGGBB")
    if names == ("overlay",):
        return style
    matte = Matte.for_classes(spec.num_classes, spec.background, selected, grow=args.grow,
                              feather=args.feather, threshold=args.threshold)

    def build(name: str):
        if name == "overlay":
            return OverlayEffect(style)
        if name == "blur":
            return BlurEffect(matte, args.blur_strength)
        if name == "alpha":
            return AlphaEffect(matte)
        if name == "color":
            return ReplaceEffect(matte, solid(parse_colour(args.background or "#00b140")))
        from livesegment.io.backgrounds import open_backdrop

        return ReplaceEffect(matte, open_backdrop(args.background))

    effects = tuple(build(n) for n in names)
    return effects[0] if len(effects) == 1 else Chain(effects)
