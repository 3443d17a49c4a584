"""A labelling sitting: the store, one editing sheet per picture, and one worker thread that
runs every step in order and saves after each.

Why one worker: the selector is not thread-safe and its ``set_image`` takes a while on a
720p picture, and steps must land in the order the user made them (a click answered late
must not overtake the stroke after it). So every step, fast or slow, goes through one
queue; the window only paints what comes back. Steps the user makes go before background
writes (masks carried through a video), so a click never waits behind a long carry.
The selector's work on the picture the user will step to next is the exception: it runs on
a thread of its own (ahead.py), beside the clicks, never before them.

After every step the picture's class ids (when they changed) and its draft (the object
being drawn) are saved, so a crash or a closed window loses at most the step in flight.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from livesegment.core.select.editing import Predict, Sheet, begin, start_from, with_labels
from livesegment.errors import describe
from livesegment.gui.label.ahead import PreparedPictures, Ready

USER, BACKGROUND = 0, 1  # queue priorities: the user's steps first
PICTURES_KEPT = 6  # decoded pictures kept for stepping back and forth
SHEETS_KEPT = 16  # pictures whose undo history stays in memory (a 720p one: 2 MB a step)


class Prompted(Protocol):
    """What the sitting needs of a selector (``livesegment.Selector``)."""

    def set_image(self, bgr: np.ndarray) -> None: ...
    def predict(self, clicks: Any, box: Any = None, previous: Any = None) -> np.ndarray: ...


@runtime_checkable
class Preparing(Prompted, Protocol):
    """A selector whose per-picture work is a value made on any thread (``Selector`` is
    one): the sitting prepares the next picture ahead with it. Others get each picture set
    when it is shown."""

    def prepare(self, bgr: np.ndarray) -> Any: ...
    def use(self, prepared: Any) -> None: ...


Step = Callable[[Sheet, Predict], Sheet]


def default_selector(model: str | None, said: Callable[[str], None]) -> Callable[[], Prompted]:
    """The selector guided by ``model``'s classes; where that model cannot load, colour
    alone (clicks still work), and ``said`` tells the user why."""
    def make() -> Prompted:
        from livesegment.core.select import Selector

        try:
            return Selector(model) if model else Selector()
        except Exception as exc:  # noqa: BLE001 - no weights for it: clicks work on colour
            said(f"the selector's model did not load ({describe(exc)}); clicks use colour "
                 "alone")
            return Selector(None)
    return make


class Sitting(QObject):
    """Steps in, sheets out. ``opened(key)`` once a picture and its sheet are ready,
    ``changed(key, ms)`` after a step (ms: how long the step took on the worker), painted
    before it is saved, then ``saved(key)``,
    ``busy(text)`` while slow work runs ("" when done), ``failed(text)`` on any error: the
    sheet stays as it was and the window lives on."""

    opened = pyqtSignal(str)
    changed = pyqtSignal(str, float)
    saved = pyqtSignal(str)
    busy = pyqtSignal(str)
    failed = pyqtSignal(str)

    def __init__(self, store: Any, make_selector: Callable[[], Prompted],
                 parent: QObject | None = None, *, ahead: bool = True) -> None:
        super().__init__(parent)
        self.store = store
        self.prepared = PreparedPictures(store.picture)
        self._ahead = ahead  # prepare the picture the user will step to next
        self._then: str | None = None  # that picture
        self._make_selector = make_selector
        self._selector: Prompted | None = None
        self._selector_key: str | None = None
        self.wanted: str | None = None  # the picture the window shows
        self._sheets: OrderedDict[str, Sheet] = OrderedDict()  # the least recent first
        self._saved: dict[str, np.ndarray] = {}  # the labels array last written per picture
        self._accepted: dict[str, float] = {}  # when the user's labels were last written
        self._fresh: set[str] = set()  # pictures nobody had labelled when their sheet began
        self._pictures: OrderedDict[str, np.ndarray] = OrderedDict()
        self._order = itertools.count()
        self._jobs: queue.PriorityQueue = queue.PriorityQueue()
        self._thread = threading.Thread(target=self._work, name="livesegment-labelling",
                                        daemon=True)
        self._thread.start()

    # -- asked from the GUI thread -------------------------------------------------------
    def sheet(self, key: str) -> Sheet | None:
        return self._sheets.get(key)

    def picture(self, key: str) -> np.ndarray | None:
        return self._pictures.get(key)

    def show(self, key: str, then: str | None = None) -> None:
        """The window moved to ``key``: load it, then get the selector ready for it, then
        (in the background) for ``then``, where the user will probably step next."""
        self.wanted, self._then = key, then
        self._put(USER, lambda: self._open(key))
        self._put(USER, lambda: self._prepare(key, only_if_wanted=True))

    def step(self, key: str, step: Step, class_id: int, selector: bool = False,
             priority: int = USER) -> None:
        """``step(sheet, predict)`` on the worker, then saved; ``selector``: it clicks."""
        self._put(priority, lambda: self._apply(key, step, class_id, selector))

    def receive(self, key: str, labels: np.ndarray, started: float) -> None:
        """Labels carried to ``key`` by a run that began at ``started`` (time.monotonic):
        a sheet in memory takes them as one step; one the user accepted on since then keeps
        the user's labels (the store kept them too: carried labels never replace a
        person's)."""
        self._put(BACKGROUND, lambda: self._receive(key, labels, started))

    def forget(self) -> None:
        """Drops every sheet (the classes were renumbered): each is read again from disk."""
        self._put(USER, lambda: (self._sheets.clear(), self._saved.clear(), self._fresh.clear()))

    def call(self, work: Callable[[], None]) -> None:
        """``work()`` on the worker, after the steps queued before it."""
        self._put(USER, work)

    def idle(self) -> bool:
        """Nothing queued and nothing running (what a test waits for)."""
        return self._jobs.unfinished_tasks == 0

    def close(self, timeout_s: float = 5.0) -> None:
        self.prepared.close(timeout_s)
        self._put(-1, None)
        self._thread.join(timeout_s)

    def _put(self, priority: int, job: Callable[[], None] | None) -> None:
        self._jobs.put((priority, next(self._order), job))

    # -- on the worker ----------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            _, _, job = self._jobs.get()
            if job is None:
                return
            try:
                job()
            except Exception as exc:  # noqa: BLE001 - shown, and the sitting goes on
                self.busy.emit("")
                self.failed.emit(describe(exc))
            finally:
                self._jobs.task_done()

    def _open(self, key: str) -> None:
        if key != self.wanted:
            return  # the user has moved on
        self._picture(key)
        self._sheet(key)
        self._sheets.move_to_end(key)
        self._evict()
        self.opened.emit(key)

    def _evict(self) -> None:
        """Sheets beyond SHEETS_KEPT, least recent first, that hold nothing unsaved go: their
        labels are on disk, and only their undo history is lost (a video of a few hundred
        frames would otherwise hold a map and a mask per frame visited)."""
        for old in list(self._sheets)[:-SHEETS_KEPT]:
            sheet = self._sheets[old]
            if not sheet.now.drawing and sheet.now.labels is self._saved.get(old):
                del self._sheets[old]
                self._saved.pop(old, None)
                self._fresh.discard(old)

    def _picture(self, key: str) -> np.ndarray:
        if key not in self._pictures:
            ready = self.prepared.get(key)
            self._pictures[key] = ready.bgr if ready else self.store.picture(key)
            while len(self._pictures) > PICTURES_KEPT:
                self._pictures.popitem(last=False)
        self._pictures.move_to_end(key)
        return self._pictures[key]

    def _sheet(self, key: str) -> Sheet:
        """The picture's sheet: from memory, else its saved labels and draft."""
        if key not in self._sheets:
            labels = self.store.labels(key)
            if labels is None:
                self._fresh.add(key)
            shape = labels.shape if labels is not None else self._picture(key).shape[:2]
            sheet = begin(labels, *shape)
            draft = self.store.draft(key)
            if draft is not None and np.asarray(draft[0]).any():
                sheet = start_from(sheet, np.asarray(draft[0], bool))
            self._sheets[key] = sheet
            self._saved[key] = sheet.now.labels
        return self._sheets[key]

    def _prepare(self, key: str, only_if_wanted: bool = False) -> None:
        """The selector made (once) and given the picture (once per picture): prepared
        ahead, or now; then the next picture is prepared in the background."""
        if (only_if_wanted and key != self.wanted) or key == self._selector_key:
            return
        if self._selector is None:
            self.busy.emit("Loading the selector…")
            self._selector = self._make_selector()
        selector = self._selector
        self._selector_key = None
        if not isinstance(selector, Preparing):
            self.busy.emit("Preparing the picture…")
            selector.set_image(self._picture(key))
        else:
            ready = self.prepared.get(key)
            if ready is None:
                self.busy.emit("Preparing the picture…")
                ready = self.prepared.take(key)  # one being prepared ahead is waited for
            if ready is None:
                bgr = self._picture(key)
                ready = Ready(bgr, selector.prepare(bgr))
                self.prepared.put(key, ready)
            selector.use(ready.prepared)
            then = self._then
            if self._ahead and then is not None and then != key:
                self.prepared.ahead(then, selector.prepare)
        self._selector_key = key
        self.busy.emit("")

    def _apply(self, key: str, step: Step, class_id: int, selector: bool) -> None:
        started = time.perf_counter()
        predict: Predict = _no_selector
        if selector:
            self._prepare(key)
            predict = self._selector.predict  # type: ignore[union-attr]
        sheet = self._sheet(key)
        new = step(sheet, predict)
        if new is sheet:
            return
        self._sheets[key] = new
        self.changed.emit(key, (time.perf_counter() - started) * 1e3)
        try:
            self._save(key, new, class_id)
            self.saved.emit(key)
        except Exception as exc:  # noqa: BLE001 - the next step tries again
            self.failed.emit(f"not saved ({key}): {describe(exc)}")

    def _receive(self, key: str, labels: np.ndarray, started: float) -> None:
        sheet = self._sheets.get(key)
        if sheet is None or self._accepted.get(key, -1.0) > started:
            return  # read from the store when opened; or the user's labels are newer
        new = with_labels(sheet, labels)
        self._sheets[key] = new
        self._saved[key] = new.now.labels  # the store has them already, as carried
        self.changed.emit(key, 0.0)
        self.saved.emit(key)

    def _save(self, key: str, sheet: Sheet, class_id: int) -> None:
        """The class ids when they changed (a click changes only the draft), and the
        draft: what is being drawn, or None once it is accepted or dropped."""
        now = sheet.now
        if now.labels is not self._saved.get(key):
            if key in self._fresh and not now.labels.any():
                self.store.forget_labels(key)  # undone back to nothing: not labelled again
            else:
                self.store.save_labels(key, np.array(now.labels))
            self._saved[key] = now.labels
            self._accepted[key] = time.monotonic()
        drawn = np.array(now.mask) if now.drawing else None
        self.store.save_draft(key, drawn, now.taken or class_id)


def _no_selector(*_args: object) -> np.ndarray:
    raise RuntimeError("this step does not use the selector")
