"""Click to keep: a click on the live view keeps the object under it in front of the effect
(the guitar as well as the person in front of the blur); a second click releases it.

Where the model has a class under the click (a dog, a chair, a bottle), that class is checked
in the classes panel: the panel's checked classes are the effect's kept ones, so the two never
disagree and the choice shows in the list. Where the model says background, the region under
the click is selected and carried along the frames by the pipeline's kept regions
(pipeline/kept_regions.py), off the GUI and compose threads. The status line says what
happened; a line in the classes panel says what is kept.
"""

from __future__ import annotations

from PyQt6.QtCore import QObject
from PyQt6.QtWidgets import QLabel, QMainWindow

from livesegment.core.models.zoo import ModelSpec
from livesegment.pipeline.kept_regions import KEEPING, RELEASED

HINT = "Click the picture to keep an object in front; Esc releases"
FINDING = "finding the clicked region…"


class ClickToKeep(QObject):
    """Wires the view's clicks to the classes panel and the pipeline's kept regions. Reads
    the window's ``view``, ``classes``, ``segmenter``, ``pipeline``, ``last_shown``,
    ``background`` and ``say``; holds only which classes its clicks added (for Esc)."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.added: set[int] = set()  # classes a click checked, of ``_spec``'s model
        self._spec: ModelSpec | None = None
        self._heard_from = None  # the pipeline whose regions report to us
        self.state = QLabel(HINT)
        self.state.setWordWrap(True)
        window.classes.layout().addWidget(self.state)
        window.view.clicked.connect(self.click)

    def click(self, x: int, y: int) -> None:
        """The frame pixel (``x``, ``y``) of the shown picture was clicked."""
        win = self.window
        shown, pipeline, segmenter = win.last_shown, win.pipeline, win.segmenter
        if shown is None or pipeline is None or segmenter is None:
            return
        self._listen(pipeline)
        shape = shown.frame.bgr.shape
        if not (0 <= x < shape[1] and 0 <= y < shape[0]):
            return
        if pipeline.kept.release_at(x, y, shape):
            self._said(RELEASED)
            return
        spec = segmenter.spec
        class_id = int(shown.labels[y, x])
        if class_id == spec.background:
            pipeline.kept.select(shown.frame, x, y)
            win.say(FINDING, 0)
            return
        if spec is not self._spec:  # another model: its ids mean other classes
            self._spec, self.added = spec, set()
        keep = class_id not in win.classes.checked()
        (self.added.add if keep else self.added.discard)(class_id)
        win.classes.set_checked(class_id, keep)
        self._said(f"{'keeping' if keep else 'released'} {spec.categories[class_id]}")

    def clear(self) -> None:
        """Releases what the clicks kept: their regions, and the classes they checked."""
        win = self.window
        if win.pipeline is not None:
            win.pipeline.kept.clear()
        if win.segmenter is not None and win.segmenter.spec is self._spec:
            for class_id in self.added:
                win.classes.set_checked(class_id, False)
        self.added = set()
        self._said("released every clicked object")

    def kept_text(self) -> str:
        """What the clicks keep now, for the classes panel."""
        win = self.window
        names = []
        if win.segmenter is not None and win.segmenter.spec is self._spec:
            checked = win.classes.checked()
            names = [self._spec.categories[i] for i in sorted(self.added) if i in checked]
        regions = win.pipeline.kept.count if win.pipeline is not None else 0
        if regions:
            names.append("the clicked region" if regions == 1 else f"{regions} clicked regions")
        return f"Kept by clicks: {', '.join(names)} (Esc releases)" if names else HINT

    def _listen(self, pipeline) -> None:
        """The regions' answers (kept, lost, refused) come to the GUI thread, to be said."""
        if self._heard_from is not pipeline:
            self._heard_from = pipeline
            pipeline.kept.on_change = lambda message: self.window.background.answer(
                self._said, message)

    def _said(self, message: str) -> None:
        win = self.window
        if message == KEEPING and win.effects.effect_name() == "overlay":
            message += " (an overlay has no front: it shows with a background effect)"
        win.say(message)
        self.state.setText(self.kept_text())
