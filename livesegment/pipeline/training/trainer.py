"""The training engine: one object that fine-tunes a model on labelled pictures.

Commands and the API only build a :class:`Trainer` and call :meth:`Trainer.run`. The run
validates every so often, keeps the best model in the output file (replaced atomically, so it
is whole whatever happens), writes ``last.pt``/``best.pt`` checkpoints with the optimiser
state, ``results.csv`` and pictures into its run folder, stops early when validation mIoU
stops rising, ends inside its time budget, and stops cleanly when its stop event is set.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from threading import Event
from typing import Any

import numpy as np
import torch

from livesegment import __version__
from livesegment.core.models.espnetv2 import classifier
from livesegment.core.models.model_file import ModelCard
from livesegment.core.models.zoo import ModelSpec, get_spec, spec_from_card
from livesegment.errors import InputError, LivesegmentError
from livesegment.io.datasets.labelfiles import made_from_video
from livesegment.pipeline.training import report
from livesegment.pipeline.training.checkpoints import read_checkpoint, save_model
from livesegment.pipeline.training.data import (
    TrainingData, batch_ids, make_batch, picture_weights, steps_per_epoch,
)
from livesegment.pipeline.training.keep import KeptClasses, kept_card, merge_classes
from livesegment.pipeline.training.losses import class_weights, segmentation_loss
from livesegment.pipeline.training.network import finetune_network
from livesegment.pipeline.training.schedule import Plan, epoch_plan, lr_factor, time_plan
from livesegment.pipeline.training.split import Split, rarest_class, split_samples
from livesegment.pipeline.training.transforms import AugmentSettings
from livesegment.pipeline.training.validate import figures, time_one_picture, validate

DEFAULT_EPOCHS = 30
SIZE_MULTIPLE = 32  # ESPNetv2's
MEASURE_STEPS = 3  # steps timed before a time budget is planned (the first warms up)
LICENCE = "fine-tuned from {base}, {licence}; the training pictures' own terms apply"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a run learns (kept in its checkpoints for --resume)."""

    base: str = "espnetv2-voc"
    size: int | None = None         # inference short side; None: the pictures' median, /32
    batch: int = 8
    epochs: int | None = None       # None with no time budget: DEFAULT_EPOCHS
    time_s: float | None = None
    lr: float = 3e-3                # peak (measured: BENCHMARKS.md, "Training", learning rate)
    head_lr_scale: float = 5.0      # the new classifier learns faster than the base layers
    weight_decay: float = 1e-4
    patience: int | None = 10       # validations without a better mIoU before stopping
    seed: int = 0
    threads: int | None = None      # torch threads; None: measured (1 wins on a busy CPU)
    val_share: float = 0.2
    dice_weight: float = 1.0
    weight_power: float = 0.5
    balance: float = 0.0            # pictures drawn by their rarest class (data.picture_weights)
    frozen_stem: bool = False       # the encoder's first two levels keep the base's weights
    keep_classes: bool = False      # the base's classes stay beside the user's (keep.py)
    augment: AugmentSettings = field(default_factory=AugmentSettings)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        aug = data.get("augment", {})
        aug = AugmentSettings(**{**aug, "scale": tuple(aug.get("scale", (0.7, 1.4)))})
        known = {f.name for f in fields(cls)}  # a keep run's old settings (kept_lr ...) go
        return cls(**{k: v for k, v in data.items() if k in known and k != "augment"},
                   augment=aug)


@dataclass(frozen=True)
class TrainProgress:
    """What a progress bar shows; sent after every step and validation."""

    step: int
    total_steps: int
    epoch: float
    elapsed_s: float
    eta_s: float
    loss: float | None
    val_miou: float | None
    best_miou: float | None
    phase: str  # "train", "validate", "done"


@dataclass(frozen=True)
class TrainResult:
    output: Path
    run_dir: Path
    steps: int
    seconds: float
    reason: str              # "done", "patience", "time", "stopped"
    best_step: int
    validation: dict[str, Any]  # the best model's figures (empty without validation pictures)


def run_folder(output: Path) -> Path:
    """Where a run keeps checkpoints, results.csv and pictures: beside the model file."""
    return output.with_name(output.stem + "-run")


class Trainer:
    """Fine-tunes ``config.base`` on ``data``; the best model goes to ``output``."""

    def __init__(self, data: TrainingData, output: Path, config: TrainConfig | None = None,
                 run_dir: Path | None = None,
                 on_progress: Callable[[TrainProgress], None] | None = None,
                 stop: Event | None = None, resume: bool = False,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.data = data
        self.clock = clock  # seconds; what the time budget is counted in
        self.output = Path(output)
        self.run_dir = Path(run_dir) if run_dir else run_folder(self.output)
        self.on_progress = on_progress or (lambda _p: None)
        self.stop = stop or Event()
        saved = self._saved_run() if resume else None
        self.config = TrainConfig.from_dict(saved[2]["config"]) if saved else (
            config or TrainConfig())
        cfg = self.config
        self.base = get_spec(cfg.base)
        self.split = self._split(saved[2] if saved else None)
        if not self.split.train:
            raise InputError("no pictures left to train on after the validation split")
        self.size = cfg.size or self._auto_size()
        if self.size % SIZE_MULTIPLE or self.size < SIZE_MULTIPLE:
            raise InputError(f"--size {self.size} must be a multiple of {SIZE_MULTIPLE}")
        freq = data.frequency(self.split.train)
        weights = class_weights(freq, cfg.weight_power)
        self.rarity = np.where(freq > 0, 1 / np.sqrt(np.maximum(freq, 1e-12)), 0.0)
        # a keep run trains the plain fine-tune; its file holds it beside the base (keep.py)
        self.table: KeptClasses | None = None
        if cfg.keep_classes:
            self.table = merge_classes(self.base, data.classes, data.colours, data.background)
        self.weights = torch.from_numpy(weights)
        self.model, self.projection = finetune_network(
            self.base, len(data.classes), {data.background: self.base.background}, cfg.seed)
        if cfg.frozen_stem:
            for part in (self.model.base_net.level1, self.model.base_net.level2_0):
                part.requires_grad_(False)
        self.model.train()
        head = list(classifier(self.model).parameters())
        rest = [p for p in self.model.parameters()
                if p.requires_grad and all(p is not h for h in head)]
        self.optimizer = torch.optim.AdamW(
            [{"params": rest, "peak_lr": cfg.lr},
             {"params": head, "peak_lr": cfg.lr * cfg.head_lr_scale}],
            lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.per_epoch = steps_per_epoch(len(self.split.train), cfg.batch)
        self.odds = picture_weights(data.counts[list(self.split.train)], data.background,
                                    cfg.balance)
        self.step, self.stale, self.elapsed_before = 0, 0, 0.0
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] = {"miou": None, "step": 0, "validation": {}}
        self.plan: Plan | None = None
        self.threads = cfg.threads
        self.times: dict[str, float] = {}
        self.next_val = 0
        if cfg.epochs or not cfg.time_s:
            self.plan = epoch_plan(cfg.epochs or DEFAULT_EPOCHS, self.per_epoch)
            self.next_val = self.plan.val_every
        if saved:
            self._restore(*saved)
        self._best_state = copy.deepcopy(self.model.state_dict())

    # -- set-up -----------------------------------------------------------------------------
    def _saved_run(self) -> tuple[ModelCard, dict[str, torch.Tensor], dict[str, Any]]:
        last = self.run_dir / "last.pt"
        if not last.is_file():
            raise InputError(f"nothing to resume: {last} does not exist (start the run "
                             "without --resume)")
        return read_checkpoint(last)

    def _split(self, saved: dict[str, Any] | None) -> Split:
        data, cfg = self.data, self.config
        if saved is not None:
            names = {n: i for i, n in enumerate(data.names)}
            wanted = saved["split"]
            if set(wanted["train"]) | set(wanted["val"]) != set(names):
                raise InputError("the dataset is not the one this run started with (its "
                                 "pictures differ); start a new run instead of --resume")
            return Split(tuple(names[n] for n in wanted["train"]),
                         tuple(names[n] for n in wanted["val"]), wanted["how"])
        freq = data.frequency(range(len(data.samples)))
        strata = [rarest_class(row, freq, data.background) for row in data.counts]
        splits = [s.split for s in data.samples]
        return split_samples(data.names, splits, strata, cfg.val_share, cfg.seed)

    def _auto_size(self) -> int:
        """The pictures' median short side rounded to the size multiple: they are seen at
        about their own resolution, where small defects keep their pixels. A label folder of
        a video's frames is for live use: the base's own size (at the frames' 480, a trained
        DAVIS swan ran live at 0.2x the bundled model's pace for 0.03 more IoU)."""
        if self.data.source and made_from_video(Path(self.data.source)):
            return self.base.default_size
        short = np.median([min(s.labels.shape) for s in self.data.samples])
        return max(SIZE_MULTIPLE, int(round(short / SIZE_MULTIPLE)) * SIZE_MULTIPLE)

    def _restore(self, _card: ModelCard, weights: dict[str, torch.Tensor],
                 state: dict[str, Any]) -> None:
        try:
            self.model.load_state_dict(weights)
        except RuntimeError:  # a keep run of a version that trained one network for all
            raise InputError(f"{self.run_dir / 'last.pt'} holds another network than this run "
                             "trains (a keep run of an earlier livesegment?); start the run "
                             "again without --resume") from None
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.stale = state["step"], state["stale"]
        self.elapsed_before = state["elapsed_s"]
        self.history, self.best = state["history"], state["best"]
        self.plan = Plan(**state["plan"]) if state["plan"] else None
        self.next_val = state["next_val"]
        self.size = state["size"]
        self.threads = state["threads"] or self.threads
        self.times = state["times"]

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> TrainResult:
        """Trains until the plan ends, patience runs out, time is up or ``stop`` is set."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.best["miou"] is not None or self.step:
            best_path = self.run_dir / "best.pt"
            if best_path.is_file():
                self._best_state = read_checkpoint(best_path)[1]
        self._start = self._mark = self.clock()
        self._step_times: list[float] = []
        self._all_threads = torch.get_num_threads()
        self._val_s = 0.0
        try:
            if self.threads is None:
                self._choose_threads()
            torch.set_num_threads(self.threads)
            reason, last_loss = self._loop()
        finally:
            torch.set_num_threads(self._all_threads)  # the process's own setting back
        self._finish(reason)
        self._report("done", last_loss)
        return TrainResult(self.output, self.run_dir, self.step, self.elapsed(), reason,
                           self.best["step"], self.best["validation"])

    def _loop(self) -> tuple[str, float | None]:
        """Steps and validations until the run ends; returns why, and the last loss."""
        reason, last_loss = "done", None
        while self.plan is None or self.step < self.plan.total_steps:
            if self.stop.is_set():
                reason = "stopped"
                break
            if self._out_of_time():
                reason = "time"
                if self._unvalidated():
                    self._validate_and_save(last_loss)
                break
            last_loss = self._train_step()
            if self.plan is None and len(self._step_times) >= MEASURE_STEPS:
                self._plan_for_time()
            if self.plan is not None and (self.step >= self.next_val
                                          or self.step >= self.plan.total_steps):
                if self._validate_and_save(last_loss):
                    reason = "patience"
                    break
            self._report("train", last_loss)
        if reason == "stopped" and self._unvalidated():
            self._save_checkpoint("last.pt")  # exactly where it stopped, for --resume
        return reason, last_loss

    def _spent(self, what: str, since: float) -> None:
        """Adds the time since ``since`` to ``what`` (where a run's time goes, on its card)."""
        self.times[what] = self.times.get(what, 0.0) + self.clock() - since

    def _unvalidated(self) -> bool:
        """Steps were taken since the last validation."""
        return self.step > (self.history[-1]["step"] if self.history else 0)

    def elapsed(self) -> float:
        return self.elapsed_before + self.clock() - self._start

    def _out_of_time(self) -> bool:
        budget = self.config.time_s
        return budget is not None and self.elapsed() >= budget

    def _train_step(self) -> float:
        cfg = self.config
        start = self.clock()
        rng = np.random.default_rng([cfg.seed, self.step, 2])
        ids = batch_ids(self.split.train, cfg.batch, cfg.seed, self.step, self.odds)
        x, y = make_batch(self.data, ids, rng, cfg.augment, self.size, self.rarity,
                          self.base.mean, self.base.std)
        self._spent("batches", start)
        compute = self.clock()
        total = self.plan.total_steps if self.plan else max(self.step + 1, 100)
        factor = lr_factor(self.step, total)
        for group in self.optimizer.param_groups:
            group["lr"] = group["peak_lr"] * factor
        logits = self.model(x)
        loss = segmentation_loss(logits, y, self.weights, cfg.dice_weight,
                                 (self.data.background,))
        if not torch.isfinite(loss):
            raise LivesegmentError(
                f"the training loss became {loss.item()} at step {self.step}; the best model "
                f"so far is kept in {self.output} (try a lower --lr)")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step += 1
        self._spent("compute", compute)
        now = self.clock()
        # Since the previous step or validation ended: the loop's own overhead counts too.
        self._step_times.append(now - self._mark)
        self._mark = now
        return float(loss.item())

    def _choose_threads(self) -> None:
        """Keeps the faster of all threads and one for this run. On a CPU that other
        programs also use, torch's threads wait for each other: measured under a load of 8-12
        on 2 cores, a 256x256x8 step took 7 s on one thread and 40-50 s on two. A few small
        forward passes tell the two apart in about a second, without a slow step. They are
        two crops of the run's own size: on a quiet machine one 128x128 picture ran as fast
        on one thread as on two (0.020-0.023 s each way), so a run sometimes chose one thread
        and stepped 1.8x slower; two 256x256 crops take 0.08 s on two threads, 0.126 on one."""
        side = self.config.augment.crop
        probe = torch.zeros(2, 3, side, side)
        timings = {}
        self.model.eval()
        with torch.inference_mode():
            for count in dict.fromkeys((self._all_threads, 1)):
                torch.set_num_threads(count)
                runs = []
                for _ in range(4):
                    start = time.perf_counter()
                    self.model(probe)
                    runs.append(time.perf_counter() - start)
                timings[count] = float(np.median(runs[1:]))
        self.model.train()
        self.threads = min(timings, key=timings.get)
        torch.set_num_threads(self.threads)

    def _step_s(self) -> float:
        times = self._step_times[1:] or self._step_times  # the first step warms caches up
        return float(np.mean(times[-50:]))

    def _plan_for_time(self) -> None:
        cfg = self.config
        if not self._val_s:
            per_picture = time_one_picture(self.model, self._spec(), self.data,
                                           self.split.val, self.size, self.clock)
            self._val_s = per_picture * len(self.split.val)
        cap = cfg.epochs * self.per_epoch if cfg.epochs else None
        left = cfg.time_s - self.elapsed() - self._val_s  # the final validation's share
        self.plan = time_plan(self.step, left, self._step_s(), self._val_s, cap)
        self.next_val = self.step + self.plan.val_every

    def _validate_and_save(self, loss: float | None) -> bool:
        """Validates, records, saves; True when patience has run out."""
        self._report("validate", loss)
        start = self.clock()
        if self.split.val:
            scores = validate(self.model, self._spec(), self.data, self.split.val, self.size)
            shown, matrix = figures(scores), scores.matrix.tolist()
        else:
            shown, matrix = {}, []
        self._spent("validation", start)
        saving = self.clock()
        miou = shown.get("miou")
        self.history.append(report.row(self.step, self.step / self.per_epoch, self.elapsed(),
                                       self.optimizer.param_groups[0]["lr"], loss, shown))
        improved = self.best["miou"] is None or (miou is not None
                                                 and miou > self.best["miou"] + 1e-4)
        if improved or not self.split.val:
            self.best = {"miou": miou, "step": self.step, "validation": shown,
                         "matrix": matrix}
            self._best_state = copy.deepcopy(self.model.state_dict())
            self.stale = 0
            self._save_checkpoint("best.pt")
            save_model(self.output, self._card(), self._best_state)
        else:
            self.stale += 1
        self.next_val = self.step + (self.plan.val_every if self.plan else 1)
        self._save_checkpoint("last.pt")
        report.write_results(self.run_dir, self.history, self.data.classes)
        self._spent("files", saving)
        self._val_s = self.clock() - start  # what a validation costs, its files included
        if self.config.time_s and self.plan is not None and self.step < self.plan.total_steps:
            cap = self.config.epochs * self.per_epoch if self.config.epochs else None
            left = self.config.time_s - self.elapsed() - self._val_s
            self.plan = time_plan(self.step, left, self._step_s(), self._val_s, cap)
            self.next_val = self.step + self.plan.val_every
        self._mark = self.clock()
        patience = self.config.patience
        return bool(patience and self.split.val and self.stale >= patience)

    # -- files ------------------------------------------------------------------------------
    def _training_state(self) -> dict[str, Any]:
        return {
            "step": self.step, "stale": self.stale, "elapsed_s": self.elapsed(),
            "optimizer": self.optimizer.state_dict(), "config": self.config.to_dict(),
            "plan": asdict(self.plan) if self.plan else None, "next_val": self.next_val,
            "history": self.history, "best": self.best, "size": self.size,
            "threads": self.threads, "times": self.times,
            "split": {"train": [self.data.names[i] for i in self.split.train],
                      "val": [self.data.names[i] for i in self.split.val],
                      "how": self.split.how},
        }

    def _save_checkpoint(self, name: str) -> None:
        weights = self._best_state if name == "best.pt" else self.model.state_dict()
        save_model(self.run_dir / name, self._card(), weights, self._training_state())

    def _card(self, reason: str | None = None, plain: bool = False) -> ModelCard:
        """The model file's card; ``plain``: of the fine-tune alone, even in a keep run."""
        cfg, data = self.config, self.data
        training = {
            "dataset": data.source, "pictures": {"train": len(self.split.train),
                                                 "val": len(self.split.val)},
            "split": self.split.how, "steps": self.step, "best_step": self.best["step"],
            "epochs": round(self.step / self.per_epoch, 2), "batch": cfg.batch,
            "seconds": round(self.elapsed(), 1), "seed": cfg.seed,
            "time_budget_s": cfg.time_s, "threads": self.threads,
            "time_s": {k: round(v, 1) for k, v in self.times.items()},
            "livesegment": __version__,
        }
        if reason:
            training["ended"] = reason
        kept = self.table is not None and not plain
        count = len(self.table.classes) if kept else len(data.classes)
        card = ModelCard(
            title=f"{Path(data.source).name or 'custom'} ({count} classes, fine-tuned from "
                  f"{self.base.name}" + (f", its {self.base.num_classes} classes kept)"
                                         if kept else ")"),
            architecture="espnetv2", decoder_projection=self.projection, base=self.base.name,
            classes=data.classes, colours=data.colours, background=data.background,
            mean=self.base.mean, std=self.base.std, size=self.size,
            size_multiple=SIZE_MULTIPLE,
            licence=LICENCE.format(base=self.base.name, licence=self.base.licence),
            training=training, validation=self.best["validation"])
        return kept_card(card, self.table, self.base) if kept else card

    def _spec(self) -> ModelSpec:
        """The spec of the network being trained (a keep run's fine-tune, on its own)."""
        return spec_from_card(self._card(plain=True), self.output)

    def _finish(self, reason: str) -> None:
        """The model file's card gets the run's final summary; the pictures are drawn."""
        if self.best["step"]:
            save_model(self.output, self._card(reason), self._best_state)
        report.draw_curves(self.run_dir, self.history)
        if self.best.get("matrix"):
            report.draw_confusion(self.run_dir, np.array(self.best["matrix"]),
                                  self.data.classes)

    def _report(self, phase: str, loss: float | None) -> None:
        total = self.plan.total_steps if self.plan else 0
        eta = 0.0
        if self.plan and self._step_times:
            left = max(0, total - self.step)
            vals = -(-left // max(1, self.plan.val_every))
            eta = left * self._step_s() + vals * self._val_s
        last = self.history[-1]["miou"] if self.history else None
        self.on_progress(TrainProgress(self.step, total, self.step / self.per_epoch,
                                       self.elapsed(), eta, loss, last, self.best["miou"],
                                       phase))


def replace_config(config: TrainConfig, **changes: Any) -> TrainConfig:
    """``config`` with some fields changed (None values ignored): the CLI's options."""
    return replace(config, **{k: v for k, v in changes.items() if v is not None})
