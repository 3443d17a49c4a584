"""How long a run goes and how its learning rate moves: a plan made for the time it is given.

With ``--epochs`` the plan is fixed from the start. With ``--time`` the run measures what a step
and a validation cost on this machine and plans the number of steps (and how often to
validate) to end inside the budget; it plans again at each validation, since a shared CPU's
speed changes. The learning rate follows the plan: a short linear warm-up, then a cosine decay
that reaches its floor at the planned last step, whatever that turns out to be.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

WARMUP_SHARE = 0.04
FLOOR = 0.02            # final learning rate, as a share of the peak
VAL_SHARE = 0.12        # of the budget spent validating, as a rule
MAX_VAL_SHARE = 0.3     # ... and at most, to get MIN_VALIDATIONS in a short budget
MIN_VALIDATIONS = 3
MAX_VALIDATIONS = 40


UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600}


def parse_duration(text: str | float) -> float:
    """``600``, ``"90s"``, ``"10m"``, ``"1.5h"`` -> seconds (above 0)."""
    raw = str(text).strip().lower()
    unit = next((u for u in sorted(UNITS, key=len, reverse=True) if raw.endswith(u)), "")
    try:
        seconds = float(raw[: len(raw) - len(unit)]) * UNITS.get(unit, 1)
    except ValueError:
        raise ValueError(f"time '{text}' is not a duration (e.g. 600, 90s, 10m, 1.5h)") from None
    if not seconds > 0 or not math.isfinite(seconds):
        raise ValueError(f"time '{text}' must be above 0")
    return seconds


@dataclass(frozen=True)
class Plan:
    """Steps to run, and every how many steps to validate."""

    total_steps: int
    val_every: int


def lr_factor(step: int, total_steps: int) -> float:
    """Share of the peak learning rate at ``step`` (0-based) of ``total_steps``."""
    warmup = max(1, round(WARMUP_SHARE * total_steps))
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    return FLOOR + (1 - FLOOR) * 0.5 * (1 + math.cos(math.pi * progress))


def epoch_plan(epochs: int, steps_per_epoch: int) -> Plan:
    """A fixed number of passes over the training pictures, validating after each."""
    return Plan(max(1, epochs * steps_per_epoch), max(1, steps_per_epoch))


def time_plan(step: int, seconds_left: float, step_s: float, val_s: float,
              max_steps: int | None = None) -> Plan:
    """The plan that spends ``seconds_left`` from ``step`` on: as many steps as fit after the
    validations (the last one included), which take about ``VAL_SHARE`` of the time (up to
    ``MAX_VAL_SHARE`` to happen at least ``MIN_VALIDATIONS`` times). ``max_steps`` caps it
    (``--epochs`` with ``--time``)."""
    seconds_left = max(0.0, seconds_left)
    affordable = seconds_left / max(val_s, 1e-6)
    validations = int(VAL_SHARE * affordable)
    if validations < MIN_VALIDATIONS:  # a few anyway, unless they would eat the budget
        validations = min(MIN_VALIDATIONS, int(MAX_VAL_SHARE * affordable))
    validations = min(max(validations, 1), MAX_VALIDATIONS)
    train_s = max(0.0, seconds_left - validations * val_s)
    steps = int(train_s / max(step_s, 1e-6))
    total = step + steps
    if max_steps is not None:
        total = min(total, max_steps)
    total = max(total, step + 1)
    return Plan(total, max(1, math.ceil((total - step) / validations)))
