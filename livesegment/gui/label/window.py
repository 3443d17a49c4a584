"""The labelling window: pictures or a video's frames, clicked, boxed and brushed into
labelled objects of the user's classes, saved after every step.

The window is wiring: the canvas says what the mouse did, the editing model
(core/select/editing.py) says what it means, the sitting (sitting.py) runs it on its worker
and saves it, and the window paints what comes back. Nothing here blocks: opening a folder,
preparing a picture for the selector, a model's prediction, carrying a mask through a video
and training all run on other threads; every failure is a message in the status bar.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (QDockWidget, QDoubleSpinBox, QFormLayout, QLabel, QMainWindow,
                             QVBoxLayout, QWidget)

from livesegment.core.segmenter import Segmenter
from livesegment.core.select.editing import (accept, click, drag_box, drop, paint,
                                             predicted_mask, redo, start_from, take, undo)
from livesegment.errors import describe
from livesegment.gui.background import BackgroundWork
from livesegment.gui.label import default_output, questions
from livesegment.gui.label.canvas import Canvas, Tool, palette_of
from livesegment.gui.label.carrying import Carrier
from livesegment.gui.label.classes import ClassEditor, ClassEntry
from livesegment.gui.label.keys import add_actions
from livesegment.gui.label.making import FolderMaking
from livesegment.gui.label.sitting import Prompted, Sitting, default_selector
from livesegment.gui.label.timeline import Mark, Timeline
from livesegment.gui.label.training import TrainDialog
from livesegment.io.datasets.labelstore import LabelClass, LabelStore

SelectorFactory = Callable[[], Prompted]
Segment = Callable[[str, np.ndarray, "str | None"], np.ndarray]

_LOADED: dict[str, Segmenter] = {}  # the last model "Segment with model" loaded, kept for the next
_USING = threading.Lock()  # a Segmenter is not thread-safe: one prediction at a time


def default_segment(name: str, bgr: np.ndarray, class_name: str | None) -> np.ndarray:
    """A model's mask of ``class_name`` (or of all it finds) on ``bgr``, on the CPU; the
    model stays loaded for the next picture (loading takes seconds, predicting less)."""
    with _USING:
        if name not in _LOADED:
            _LOADED.clear()
            _LOADED[name] = Segmenter.create(name, "cpu")
        return predicted_mask(_LOADED[name], bgr, class_name)


class LabelWindow(QMainWindow):
    """``store``: the label folder to work on (None: the user opens one). Factories and
    questions are attributes and arguments so tests can replace them."""

    model_ready = pyqtSignal(str)  # a trained model the user chose as the live model

    def __init__(self, store: LabelStore | None = None, *, model: str | None = None,
                 make_selector: SelectorFactory | None = None,
                 segment: Segment = default_segment) -> None:
        super().__init__()
        self.setWindowTitle("livesegment: label")
        self.model = model
        self._segment = segment
        self.prepare_ahead = True  # the next picture's selector work while this one is clicked
        self.background = BackgroundWork(self)
        self._make_selector = make_selector or default_selector(
            model, lambda why: self.background.answer(self.show_error, why))
        self.store: LabelStore | None = None
        self.sitting: Sitting | None = None
        self.keys: list[str] = []
        self.index = 0
        self.last_answer_ms = 0.0  # from the last click to its mask on screen
        self.last_step_ms = 0.0  # the step's own work on the sitting's worker
        self._clicked_at: float | None = None
        self.ask_model, self.ask_new_folder = questions.ask_model, questions.ask_new_folder
        self.ask_pictures, self.ask_video = questions.ask_pictures, questions.ask_video
        self.ask_training = questions.ask_training
        self.carrier = Carrier(self)
        self.carrier.frame.connect(self._carried)
        self.carrier.ended.connect(self._carry_ended)
        self.training: TrainDialog | None = None
        self.making: FolderMaking | None = None  # a new label folder being made
        self._build()
        if store is not None:
            self.set_store(store)

    # -- construction -----------------------------------------------------------------------
    def _build(self) -> None:
        self.canvas = Canvas()
        self.timeline = Timeline()
        middle = QWidget()
        layout = QVBoxLayout(middle)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.timeline)
        self.setCentralWidget(middle)
        self.class_editor = ClassEditor()
        self.brush_size = QDoubleSpinBox()
        self.brush_size.setRange(1, 200)
        self.brush_size.setValue(self.canvas.brush_radius)
        self.brush_size.valueChanged.connect(self._brush_changed)
        self.tool_label = QLabel()
        panel = QWidget()
        form = QFormLayout(panel)
        form.addRow(self.class_editor)
        form.addRow("Tool", self.tool_label)
        form.addRow("Brush radius", self.brush_size)
        dock = QDockWidget("Classes and tools", self)
        dock.setObjectName("label-tools")
        dock.setWidget(panel)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.busy = QLabel("")
        self.statusBar().addPermanentWidget(self.busy)
        self.actions_by_name = add_actions(self)
        self.set_tool(Tool.CLICK)
        self.canvas.clicked.connect(self.click)
        self.canvas.boxed.connect(self.box)
        self.canvas.stroked.connect(self.stroke)
        self.canvas.picked.connect(self.pick)
        self.timeline.moved.connect(self.go)
        self.class_editor.edited.connect(self.edit_classes)
        self.class_editor.removed.connect(self.remove_class)
        self.class_editor.error.connect(self.show_error)
        self.resize(1280, 800)

    # -- the label folder -------------------------------------------------------------------
    def set_store(self, store: LabelStore) -> None:
        """Works on ``store`` from now on; continues where an earlier sitting stopped (the
        picture with a draft, else the first one nobody labelled)."""
        self.carrier.cancel(wait_s=5.0)  # the earlier folder's carrying, if any
        if self.sitting is not None:
            self.sitting.close()
            self.sitting.deleteLater()
        self.store = store
        self.sitting = Sitting(store, self._make_selector, self, ahead=self.prepare_ahead)
        self.sitting.opened.connect(self._opened)
        self.sitting.changed.connect(self._changed)
        self.sitting.saved.connect(self._mark)
        self.sitting.busy.connect(self._busy)
        self.sitting.failed.connect(self.show_error)
        self.keys = store.keys()
        self.setWindowTitle(f"livesegment: label {store.folder}")
        self._show_classes()
        self.timeline.set_count(len(self.keys))
        self._refresh_marks()
        self.index = -1
        self.go(self._where_to_continue())

    def _where_to_continue(self) -> int:
        drafted = self.store.drafted()  # type: ignore[union-attr]
        if drafted:
            return self.keys.index(drafted[0])
        done = set(self.store.labelled())  # type: ignore[union-attr]
        return next((i for i, k in enumerate(self.keys) if k not in done), 0)

    def _show_classes(self, keep: int | None = None) -> None:
        classes = [ClassEntry(c.name, tuple(c.colour)) for c in self.store.classes]
        self.class_editor.set_classes(classes, keep)
        self._palette = palette_of([c.colour for c in classes])

    def _refresh_marks(self) -> None:
        marks = {i: self._mark_of(key) for i, key in enumerate(self.keys)}
        self.timeline.set_marks({i: m for i, m in marks.items() if m is not None})

    def _mark_of(self, key: str) -> Mark | None:
        """What the timeline shows for a picture, from who labelled it (the store knows)."""
        from livesegment.core.select.tracking import THRESHOLD

        status = self.store.status(key) if self.store else None
        if status is None:
            return None
        if status.human:
            return Mark.LABELLED
        return Mark.CARRIED if status.confidence >= THRESHOLD else Mark.LOOK

    @property
    def key(self) -> str | None:
        return self.keys[self.index] if 0 <= self.index < len(self.keys) else None

    def go(self, index: int) -> None:
        """Shows picture ``index`` (clamped); its sheet and selector are readied on the worker."""
        if not self.keys:
            return
        index = min(max(index, 0), len(self.keys) - 1)
        if index == self.index:
            return
        step = 1 if index > self.index else -1  # the way the user goes: prepared ahead
        self.index = index
        self.timeline.set_index(index)
        self.canvas.show_picture(None, f"Loading {self.key}…")
        then = index + step
        self.sitting.show(self.key, self.keys[then]  # type: ignore[union-attr]
                          if 0 <= then < len(self.keys) else None)

    def next_to_look_at(self) -> None:
        marks = self.timeline.marks()
        later = [i for i, m in sorted(marks.items()) if m is Mark.LOOK and i > self.index]
        looks = later or [i for i, m in sorted(marks.items()) if m is Mark.LOOK]
        if looks:
            self.go(looks[0])
        else:
            self.say("No frame needs a look")

    def _opened(self, key: str) -> None:
        if key != self.key:
            return
        self.canvas.show_picture(self.sitting.picture(key))  # type: ignore[union-attr]
        self._paint_sheet()

    def _paint_sheet(self) -> None:
        sheet = self.sitting.sheet(self.key) if self.sitting and self.key else None
        self.canvas.show_moment(sheet.now if sheet else None, self._palette)

    def _changed(self, key: str, step_ms: float) -> None:
        self.last_step_ms = step_ms
        if key == self.key:
            self._paint_sheet()
            if self._clicked_at is not None:
                self.last_answer_ms = (time.perf_counter() - self._clicked_at) * 1e3
                self._clicked_at = None
                self.say(f"Mask in {self.last_answer_ms:.0f} ms", 3000)

    def _mark(self, key: str) -> None:
        marks, mark = self.timeline.marks(), self._mark_of(key)
        i = self.keys.index(key)
        if mark is None:
            marks.pop(i, None)
        else:
            marks[i] = mark
        self.timeline.set_marks(marks)

    # -- steps ------------------------------------------------------------------------------
    def _step(self, step: Callable, selector: bool = False) -> None:
        if self.sitting is None or self.key is None:
            return
        self.sitting.step(self.key, step, self.class_editor.class_id(), selector)

    def click(self, x: float, y: float, include: bool) -> None:
        self._clicked_at = time.perf_counter()
        self._step(lambda s, p: click(s, p, x, y, include), selector=True)

    def box(self, box: tuple[float, float, float, float]) -> None:
        self._clicked_at = time.perf_counter()
        self._step(lambda s, p: drag_box(s, p, box), selector=True)

    def stroke(self, points: list, radius: float, add: bool) -> None:
        self._step(lambda s, _p: paint(s, points, radius, add))

    def pick(self, x: float, y: float) -> None:
        self._step(lambda s, _p: take(s, x, y))

    def undo(self) -> None:
        self._step(lambda s, _p: undo(s))

    def redo(self) -> None:
        self._step(lambda s, _p: redo(s))

    def drop(self) -> None:
        self._step(lambda s, _p: drop(s))

    def accept(self) -> None:
        """Enter: the object into the selected class (a class must exist first)."""
        class_id = self.class_editor.class_id()
        if class_id == 0:
            self.show_error("add a class first (Add, in the class list), then press Enter")
            return
        done: list[bool] = []

        def step(sheet: Any, _predict: Any) -> Any:
            after = accept(sheet, class_id)
            done.append(after is not sheet)
            return after
        self._step(step)
        self.accepted(self.key, done)

    def accepted(self, key: str | None, done: list[bool]) -> None:
        """After an accept on a video's frame, once it is saved (``done`` says whether
        there was anything to accept): its labels are carried through the other frames in
        the background (a newer accept re-seeds)."""
        store = self.store
        if store is None or key is None or not store.is_video():
            return
        answer = self.background.answer
        self.sitting.call(lambda: any(done) and answer(  # type: ignore[union-attr]
            self.carrier.carry_from, store, key))

    def _carried(self, carried: Any, started: float) -> None:
        """A frame the carrying wrote: its sheet (if open) takes the labels, the timeline
        its mark."""
        if self.sitting is None or carried.key not in self.keys:
            return
        self.sitting.receive(carried.key, carried.labels, started)
        marks = self.timeline.marks()
        marks[carried.index] = Mark.LOOK if carried.needs_look else Mark.CARRIED
        self.timeline.set_marks(marks)
        self.busy.setText(f"Carrying… frame {carried.index + 1}")

    def _carry_ended(self, text: str, failed: bool) -> None:
        self.busy.setText("")
        if failed:
            self.show_error(text)
        else:
            self.say(text)

    # -- tools ------------------------------------------------------------------------------
    def set_tool(self, tool: Tool) -> None:
        self.canvas.tool = tool
        self.tool_label.setText({Tool.CLICK: "clicks and boxes (C)", Tool.BRUSH: "brush (B)",
                                 Tool.ERASER: "eraser (E)"}[tool])
        self.canvas.update()

    def toggle_tool(self, tool: Tool) -> None:
        """B and E switch their tool on, and back to clicks when it is on already."""
        self.set_tool(Tool.CLICK if self.canvas.tool is tool else tool)

    def scale_brush(self, factor: float) -> None:
        self.brush_size.setValue(self.brush_size.value() * factor)

    def _brush_changed(self, value: float) -> None:
        self.canvas.brush_radius = value
        self.canvas.update()

    # -- classes ----------------------------------------------------------------------------
    def edit_classes(self, classes: tuple[ClassEntry, ...]) -> None:
        """Add, rename or recolour: saved at once; a refusal leaves the list as it was."""
        keep = self.class_editor.class_id()
        if len(classes) > len(self.class_editor.classes()):
            keep = len(classes) - 1  # a new class is the one the user wants to label next
        chosen = [LabelClass(c.name, tuple(c.colour)) for c in classes]
        self._on_worker(lambda: self.store.set_classes(chosen),  # type: ignore[union-attr]
                        lambda _: self._classes_saved(keep))

    def remove_class(self, class_id: int) -> None:
        """Removes a class no pixel has (the store refuses otherwise); later ids move down,
        so every sheet is read again from disk."""
        self._on_worker(lambda: self.store.remove_class(class_id),  # type: ignore[union-attr]
                        lambda _: self._classes_saved(max(1, class_id - 1), reload=True))
        self.sitting.forget()  # type: ignore[union-attr] - queued after the removal

    def _classes_saved(self, keep: int, reload: bool = False) -> None:
        self._show_classes(keep)
        if reload and self.key:
            self.sitting.show(self.key)  # type: ignore[union-attr]
        self._paint_sheet()
        self.say("Classes saved", 3000)

    def _on_worker(self, work: Callable[[], Any], then: Callable[[Any], None]) -> None:
        """``work`` after the steps queued so far, ``then(result)`` back here; a failure
        shows its message and puts the class list back as saved."""
        if self.sitting is None:
            return
        answer = self.background.answer

        def run() -> None:
            try:
                result = work()
            except Exception as exc:  # noqa: BLE001 - shown; the store is as it was
                answer(self._refused, describe(exc))
                return
            answer(then, result)
        self.sitting.call(run)

    def _refused(self, message: str) -> None:
        self.show_error(message)
        if self.store is not None:
            self._show_classes()

    # -- a model's answer as the start ----------------------------------------------------
    def choose_segment(self) -> None:
        name = self.ask_model(self, self.model)
        if name:
            self.segment_with(name)

    def segment_with(self, name: str) -> None:
        """Segments the shown picture with model ``name`` (background thread); its mask of
        the selected class (or of all it finds) becomes the object to correct."""
        key = self.key
        bgr = self.sitting.picture(key) if self.sitting and key else None
        if bgr is None:
            self.show_error("open a picture first")
            return
        class_name = self.class_editor.classes()[self.class_editor.class_id()].name \
            if self.class_editor.class_id() else None
        self._busy(f"Segmenting with {name}…")
        self.background.run(lambda: self._segment(name, bgr, class_name),
                            lambda mask: self._segmented(key, mask, name),
                            lambda why: (self._busy(""),
                                         self.show_error(f"cannot segment with {name}: {why}")))

    def _segmented(self, key: str, mask: np.ndarray, name: str) -> None:
        self._busy("")
        if not np.asarray(mask).any():
            self.say(f"{name} found nothing here", 5000)
            return
        self.sitting.step(key, lambda s, _p: start_from(s, mask),  # type: ignore[union-attr]
                          self.class_editor.class_id())

    # -- opening pictures or a video --------------------------------------------------------
    def choose_pictures(self) -> None:
        source = self.ask_pictures(self)
        if source:
            self.open_source(source)

    def choose_video(self) -> None:
        source = self.ask_video(self)
        if source:
            self.open_source(source)

    def open_source(self, source: str, output: str | None = None) -> None:
        """A label folder is opened as it is; pictures or a video get a new label folder
        (asked for), made on a helper thread with a progress dialog whose Cancel removes it."""
        from livesegment.io.datasets.labelfiles import is_label_folder

        if is_label_folder(Path(source)):
            self._open_store(lambda: LabelStore.open(source))
            return
        if self.making is not None and self.making.running:  # one folder made at a time
            self.making.dialog.show()
            return
        output = output or self.ask_new_folder(self, str(default_output(Path(source))))
        if output:
            self.making = FolderMaking(self, self.background, source, output,
                                       ready=self.set_store, failed=self.show_error,
                                       said=self.say, shown=self._busy)

    def _open_store(self, make: Callable[[], LabelStore]) -> None:
        self._busy("Opening…")
        self.background.run(make, lambda store: (self._busy(""), self.set_store(store)),
                            lambda why: (self._busy(""), self.show_error(why)))

    # -- training ---------------------------------------------------------------------------
    def choose_training(self) -> None:
        if self.store is None or not self.store.labelled():
            self.show_error("label a few pictures first (Enter accepts an object)")
            return
        from livesegment.pipeline.labelling import default_model_path

        answer = self.ask_training(self, default_model_path(self.store))
        if answer is not None:
            self.train(*answer)

    def train(self, output: Path, minutes: float, overwrite: bool = False,
              config: Any = None) -> TrainDialog | None:
        """Trains on the saved labels in the background; the dialog shows how it goes and
        offers the result as the live model (``model_ready``)."""
        if self.training is not None and self.training.running:
            self.training.show()
            return self.training
        if config is None:
            from livesegment.pipeline.training.trainer import TrainConfig

            config = TrainConfig(base=self.model or TrainConfig.base, time_s=minutes * 60)
        try:
            self.training = TrainDialog(self.store, output, self, config=config,
                                        overwrite=overwrite)
        except Exception as exc:  # noqa: BLE001 - a thread that would not start
            self.show_error(f"cannot train: {describe(exc)}")
            return None
        self.training.use_model.connect(self.model_ready)
        self.training.show()
        return self.training

    # -- messages and lifetime -------------------------------------------------------------
    def say(self, message: str, ms: int = 8000) -> None:
        self.statusBar().showMessage(message, ms)

    def show_error(self, message: str) -> None:
        self.statusBar().showMessage(f"Error: {message}")

    def _busy(self, text: str) -> None:
        self.busy.setText(text)
        self.canvas.set_message(text)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.carrier.cancel(wait_s=5.0)
        if self.making is not None:  # its helper removes the unfinished folder
            self.making.cancel()
        if self.training is not None and self.training.running:
            self.training.run.cancel()
            self.training.run.wait(10.0)
        if self.sitting is not None:
            self.sitting.close()
        self.background.join(2.0)
        super().closeEvent(event)
