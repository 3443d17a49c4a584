"""The main window: live overlay, controls, readouts, export. No maths here: it drives the
pipeline and shows what comes out.

Work that can take time (loading a model, opening a camera, exporting a video) runs on plain
threads; their answers are handled on the GUI thread (gui/background.py). A timer polls the
pipeline's newest-result slot and paints it; readouts refresh four times a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from PyQt6.QtCore import QByteArray, QSettings, Qt, QTimer
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QProgressBar, QPushButton,
    QWidget,
)

from livesegment.core.compose.effects import Effect, is_transparent
from livesegment.core.compose.overlay import OverlayStyle
from livesegment.core.segmenter import Segmenter
from livesegment.core.models.zoo import get_spec
from livesegment.core.masks.smoothing import MaskOptions
from livesegment.errors import LivesegmentError
from livesegment.gui.about import about_text
from livesegment.gui.background import BackgroundWork
from livesegment.gui.capture import CaptureControls
from livesegment.gui.export import ExportController
from livesegment.gui.keep import ClickToKeep
from livesegment.gui.mask_controls import MaskControls
from livesegment.gui.menus import add_menu_actions
from livesegment.gui.panels import ClassesPanel, EffectsPanel, ModelPanel, SourcePanel
from livesegment.gui.virtualcam import VirtualCameraButton
from livesegment.gui.widgets import VideoView
from livesegment.io.live_source import LiveSource, open_live_source, probe_cameras
from livesegment.io.sample import sample_clip
from livesegment.pipeline.job import JobReport
from livesegment.pipeline.live import LivePipeline, LiveStats
from livesegment.pipeline.stats import RateMeter

POLL_MS = 8
READOUT_MS = 250

SegmenterFactory = Callable[[str, str, int | None, str], Segmenter]
SourceFactory = Callable[[str, "tuple[int, int] | None"], LiveSource]


def _create_segmenter(model: str, device: str, size: int | None,
                      backend: str = "torch") -> Segmenter:
    return Segmenter.create(model, device, size, backend=backend)


class MainWindow(QMainWindow):
    """``segmenter_factory`` and ``source_factory`` are injectable so tests can use fakes."""

    def __init__(self, source: str | None = None, model: str | None = None, *,
                 segmenter_factory: SegmenterFactory = _create_segmenter,
                 source_factory: SourceFactory = open_live_source,
                 settings: QSettings | None = None, probe: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("livesegment")
        self._make_segmenter = segmenter_factory
        self._make_source = source_factory
        self.settings = settings or QSettings("livesegment", "livesegment")
        self.background = BackgroundWork(self)
        self.pipeline: LivePipeline | None = None
        self.segmenter: Segmenter | None = None
        self.source_spec: str | None = None
        self._opening: str | None = None  # the source being opened (the probe must not win)
        self._closed = False
        self.display_rate = RateMeter()
        self.last_latency_ms = 0.0
        self.last_shown = None
        self._model_ticket = 0
        self._source_note = ""  # said once with the next source shown
        self._build_ui()
        self._connect()
        self._restore(model)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._poll)
        self._timer.start(POLL_MS)
        self._readout_timer = QTimer(self)
        self._readout_timer.timeout.connect(self._update_readouts)
        self._readout_timer.start(READOUT_MS)
        self.load_model()
        if probe:
            work = self.background
            work.start(lambda: work.answer(self._cameras_found, probe_cameras()))
        initial = source or self.settings.value("source", None, str)
        if initial:
            self.open_source(initial)

    # -- construction -----------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.view = VideoView()
        self.setCentralWidget(self.view)
        self.sources = SourcePanel()
        self.models = ModelPanel()
        self.classes = ClassesPanel()
        self.effects = EffectsPanel()
        self.mask_controls = MaskControls()
        self.export = ExportController(self)
        self.capture = CaptureControls(self.view.current_frame)
        self.virtual_camera = VirtualCameraButton(self._source_fps)
        self.capture.row.addWidget(self.virtual_camera)
        self.capture.row.addWidget(self.export.button)
        self.docks = [self._dock(title, widget) for title, widget in (
            ("Source", self.sources), ("Model", self.models), ("Classes", self.classes),
            ("Masks", self.mask_controls), ("Effect", self.effects), ("Live", self.capture))]

        bar = self.statusBar()
        self.readout = QLabel("")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.busy.hide()
        self.retry_button = QPushButton("Retry")
        self.retry_button.hide()
        for widget in (self.retry_button, self.export.progress, self.export.cancel_button,
                       self.busy, self.readout):
            bar.addPermanentWidget(widget)
        self.keep = ClickToKeep(self)
        self._add_actions()

    def _dock(self, title: str, widget: QWidget) -> QDockWidget:
        """One panel in its own dock on the right, movable, not closable (nothing to reopen it)."""
        dock = QDockWidget(title, self)
        dock.setObjectName(title.lower())
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        return dock

    def _add_actions(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        view_menu = menu.addMenu("&View")
        help_menu = menu.addMenu("&Help")
        entries = [
            (file_menu, "&Open video…", "Ctrl+O", self.choose_video),
            (file_menu, "Open &model…", "Ctrl+M", self.choose_model_file),
            (file_menu, "&Export annotated video…", "Ctrl+E", self.choose_export),
            (file_menu, "&Label pictures or video…", "Ctrl+L", self.open_labelling),
            (file_menu, "&Snapshot", "S", self.snapshot),
            (file_menu, "&Record", "R", lambda: self.capture.record_button.toggle()),
            (file_menu, "&Quit", "Ctrl+Q", self.close),
            (view_menu, "&Pause / resume", "Space", self.toggle_pause),
            (view_menu, "&Fullscreen", "F11", self.toggle_fullscreen),
            (view_menu, "&Mask only", "M", lambda: self.classes.mask_only.toggle()),
            (view_menu, "Increase opacity", "+", lambda: self.effects.step_opacity(10)),
            (view_menu, "Decrease opacity", "-", lambda: self.effects.step_opacity(-10)),
            (view_menu, "Release &kept objects", None, lambda: self.keep.clear()),
            (help_menu, "&About", None, self.about),
        ]
        self.actions_by_name = add_menu_actions(self, entries,
                                                Qt.ShortcutContext.ApplicationShortcut)
        escape = QAction("Leave fullscreen", self)
        escape.setShortcut(QKeySequence("Esc"))
        escape.triggered.connect(  # leaves fullscreen first, then releases the clicked objects
            lambda: self.toggle_fullscreen() if self.isFullScreen() else self.keep.clear())
        self.addAction(escape)

    def _connect(self) -> None:
        """Parts say what the user chose; the window answers. Every part that talks to the user
        does so the same way (``message(text, ms)``, ``error(text)``), wired here in one loop."""
        self.sources.chosen.connect(self.open_source)
        self.sources.open_video_requested.connect(self.choose_video)
        self.sources.resolution_changed.connect(self._resolution_changed)
        self.models.model_changed.connect(self.load_model)
        self.models.size_changed.connect(self._size_changed)
        self.models.pace_changed.connect(self._pace_changed)
        self.classes.changed.connect(self._style_changed)
        self.effects.changed.connect(self._style_changed)
        self.mask_controls.changed.connect(self._masks_changed)
        self.capture.pause_button.clicked.connect(self.toggle_pause)
        self.export.button.clicked.connect(self.choose_export)
        self.export.done.connect(self._export_done)
        self.retry_button.clicked.connect(self.retry_source)
        for part in (self.capture, self.export, self.virtual_camera):
            part.message.connect(self.say)
        for part in (self.effects, self.capture, self.export, self.virtual_camera):
            part.error.connect(self.show_error)

    def _masks_changed(self, masks: MaskOptions) -> None:
        if self.pipeline is not None:
            self.pipeline.set_masks(masks)

    def _cameras_found(self, indices: list[int]) -> None:
        """Lists the cameras; with nothing open yet, shows the first one, or the bundled sample
        clip where there is no camera, so a first start never shows an empty window."""
        self.sources.add_cameras(indices)
        if self.source_spec is None and self._opening is None:  # nothing asked for yet
            if not indices:
                self._source_note = " (no camera found: the bundled sample clip)"
            self.open_source(str(indices[0]) if indices else str(sample_clip()))

    def _restore(self, model: str | None) -> None:
        """Each panel puts back its own last choices; the window, its size and place."""
        self.models.restore(self.settings, model)
        self.effects.restore(self.settings)
        self.mask_controls.restore(self.settings)
        geometry = self.settings.value("geometry")
        # A hand-edited or damaged settings file holds a string here: a default size then.
        if not isinstance(geometry, (QByteArray, bytes)) or not self.restoreGeometry(geometry):
            self.resize(1280, 760)

    # -- model ------------------------------------------------------------------------------
    def load_model(self) -> None:
        """Loads the selected model on a worker thread; the window keeps painting meanwhile."""
        name = self.models.model_name()
        self._model_ticket += 1
        ticket = self._model_ticket
        try:
            spec = get_spec(name)  # a model file's card is read here: it may be refused
        except LivesegmentError as exc:
            self._model_failed(f"cannot load {name}: {exc}", ticket)
            return
        # The model's own sizes; the choice kept where it offers it ("auto" too), else its default.
        self.models.fill_sizes(spec, "auto" if self.models.auto_size() else self.models.size())
        size = self.models.size()
        device, backend = self.models.device(), self.models.backend()
        self.busy.show()
        self.say(f"Loading {name} on {device}…", 0)
        self.background.run(lambda: self._make_segmenter(name, device, size, backend),
                            lambda seg: self._model_ready(seg, ticket),
                            lambda why: self._model_failed(f"cannot load {name}: {why}", ticket))

    def _model_ready(self, seg: Segmenter, ticket: int) -> None:
        if ticket != self._model_ticket or self._closed:
            return  # a newer choice superseded this one, or the window has closed
        self.busy.hide()
        previous = self.segmenter
        self.segmenter = seg
        if previous is None or previous.spec is not seg.spec:
            self.classes.restore(self.settings, seg.spec)
        style = self.current_style()
        if self.pipeline is None:
            answer = self.background.answer  # the pipeline's workers report from their threads
            self.pipeline = LivePipeline(seg, style, on_error=partial(answer, self.show_error),
                                         on_notice=partial(answer, self.say),
                                         on_end=partial(answer, self.say, "End of video"),
                                         masks=self.mask_controls.options(),
                                         pace=self.models.pace(),
                                         auto_size=self.models.auto_size())
        else:
            self.pipeline.set_style(style)
            self.pipeline.set_segmenter(seg)
            self.pipeline.set_auto_size(self.models.auto_size())
        self.say(f"{seg.spec.title} ready on {seg.device.type}", 5000)
        self.view.show_message("Choose a source: a camera or Open video…")

    def _model_failed(self, message: str, ticket: int) -> None:
        if ticket != self._model_ticket:
            return
        self.busy.hide()
        self.models.forget_model(self.models.model_name())
        if self.segmenter is not None:  # keep what worked, show what did not
            self.models.select_model(self.segmenter.spec.name)
            message += f"; kept {self.segmenter.spec.name}"
        self.show_error(message)

    def choose_model_file(self) -> None:
        self._ask_for_file("Open model", "Models made by livesegment train (*.pt)",
                           self.open_model_file)

    def open_model_file(self, path: str) -> None:
        """A model made by ``livesegment train`` joins the model list and is loaded."""
        self.models.select_model(str(Path(path).resolve()))
        self.load_model()

    def _size_changed(self) -> None:
        if self.segmenter is None or self.pipeline is None:
            return
        size = self.models.size()
        self.pipeline.set_auto_size(self.models.auto_size())  # "auto" starts from here
        if size:
            seg = self.segmenter.with_size(size)
            self.segmenter = seg
            self.pipeline.set_segmenter(seg)

    def _pace_changed(self) -> None:
        if self.pipeline is not None:
            self.pipeline.set_pace(self.models.pace())

    # -- overlay style / effect -------------------------------------------------------------
    def current_style(self, own_background: bool = False) -> OverlayStyle | Effect:
        spec = self.segmenter.spec if self.segmenter else get_spec(self.models.model_name())
        return self.effects.look(spec, self.classes.selection(),
                                 self.classes.mask_only.isChecked(), own_background)

    def _style_changed(self) -> None:
        if self.pipeline is not None and self.segmenter is not None:
            self.pipeline.set_style(self.current_style())

    # -- sources ----------------------------------------------------------------------------
    def choose_video(self) -> None:
        self._ask_for_file("Open video", "Videos (*.mp4 *.mkv *.mov *.avi *.webm *.m4v)",
                           self.open_source)

    def _ask_for_file(self, title: str, kinds: str, then: Callable[[str], None]) -> None:
        path, _ = QFileDialog.getOpenFileName(self, title, "", f"{kinds};;All files (*)")
        if path:
            then(path)

    def open_source(self, spec: str) -> None:
        """Opens a camera, file or URL on a worker thread (camera drivers can block)."""
        self._opening = spec
        self.busy.show()
        self.retry_button.hide()
        self.say(f"Opening {spec}…", 0)
        resolution = self.sources.resolution()
        self.background.run(lambda: self._make_source(spec, resolution),
                            lambda source: self._source_ready(source, spec),
                            lambda why: self._source_failed(why, spec))

    def _source_ready(self, source: LiveSource, spec: str) -> None:
        self.busy.hide()
        if self._closed:
            source.close()
            return
        if self.pipeline is None:  # the model is still loading: try again shortly
            QTimer.singleShot(100, lambda: self._source_ready(source, spec))
            return
        self.source_spec = spec
        self.pipeline.set_source(source)
        self.sources.show_source(spec)
        self.say(f"Showing {source.name}{self._source_note}")
        self._source_note = ""

    def _source_failed(self, message: str, spec: str) -> None:
        self.busy.hide()
        self.source_spec = spec
        self.show_error(message, True)

    def _resolution_changed(self) -> None:
        """Cameras reopen at the new resolution; files keep their own size."""
        if self.source_spec and self.source_spec.isdigit():
            self.open_source(self.source_spec)

    def retry_source(self) -> None:
        if self.source_spec:
            self.open_source(self.source_spec)

    def say(self, message: str, ms: int = 8000) -> None:
        """Status-bar text for ``ms`` milliseconds (0: until the next)."""
        self.statusBar().showMessage(message, ms)

    def show_error(self, message: str, retryable: bool = False) -> None:
        self.statusBar().showMessage(f"Error: {message}")
        self.retry_button.setVisible(retryable)
        if retryable:
            self.view.show_message(message)

    # -- painting ---------------------------------------------------------------------------
    def _poll(self) -> None:
        if self.pipeline is None:
            return
        composed = self.pipeline.take_latest()
        if composed is None:
            return
        self.view.show_frame(composed.image)
        self.last_shown = composed
        self.display_rate.tick()
        self.last_latency_ms = (time.monotonic() - composed.frame.captured_at) * 1e3
        self.capture.add(composed.image, composed.frame.captured_at)
        self.virtual_camera.offer(composed.image)

    def _source_fps(self) -> float:
        """The open source's nominal rate: the pace the virtual camera sends at."""
        return self.pipeline.source_fps if self.pipeline is not None else 30.0

    def _update_readouts(self) -> None:
        if self.pipeline is None:
            return
        mask_age_s = self.last_shown.mask_age_s if self.last_shown is not None else 0.0
        self.readout.setText(readout_text(self.pipeline.stats(), self.display_rate.rate(),
                                          self.last_latency_ms,
                                          self.last_latency_ms + mask_age_s * 1e3))

    # -- actions ----------------------------------------------------------------------------
    def toggle_pause(self) -> None:
        if self.pipeline is None:
            return
        paused = not self.pipeline.paused
        self.pipeline.set_paused(paused)
        self.capture.show_paused(paused)

    def toggle_fullscreen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
            for dock in self.docks:
                dock.show()
        else:
            for dock in self.docks:
                dock.hide()
            self.showFullScreen()

    def snapshot(self, path: Path | None = None) -> Path | None:
        return self.capture.snapshot(path)

    def set_recording(self, on: bool, path: Path | None = None) -> Path | None:
        return self.capture.set_recording(on, path)

    # -- export -----------------------------------------------------------------------------
    def choose_export(self) -> None:
        if not self.source_spec or not Path(self.source_spec).is_file():
            self.show_error("export needs a video file as the source (Open video…)")
            return
        src = Path(self.source_spec)
        if is_transparent(self.current_style()):  # only these formats keep the alpha channel
            suffix, kinds = ".webm", "WebM with alpha (*.webm);;ProRes 4444 (*.mov)"
        else:
            suffix, kinds = ".mp4", "MP4 video (*.mp4);;Matroska (*.mkv)"
        suggestion = str(src.with_name(f"{src.stem}-annotated{suffix}"))
        path, _ = QFileDialog.getSaveFileName(self, "Export annotated video", suggestion, kinds)
        if path:
            self.start_export(Path(path))

    def start_export(self, output: Path) -> None:
        """Runs the offline engine on the open file in the background; the window stays live."""
        if self.export.running or self.segmenter is None or not self.source_spec:
            return
        try:
            style = self.current_style(own_background=True)
        except LivesegmentError as exc:  # the background file went away meanwhile
            self.show_error(f"export failed: {exc}")
            return
        self.export.start(Path(self.source_spec), output,
                          self.segmenter.with_size(self.segmenter.size), style,
                          self.mask_controls.options())

    def cancel_export(self) -> None:
        self.export.cancel()

    def _export_done(self, report: JobReport) -> None:
        """A finished export is opened, so what was made is what is shown."""
        if report.interrupted:
            return
        self.last_export = report
        self.open_source(str(report.output))

    def open_labelling(self) -> None:
        """The labelling window beside this one; a model trained there becomes the live one."""
        from livesegment.gui.label.window import LabelWindow

        if getattr(self, "label_window", None) is None or not self.label_window.isVisible():
            self.label_window = LabelWindow(model=self.models.model_name())
            self.label_window.model_ready.connect(self.open_model_file)
        self.label_window.show()
        self.label_window.raise_()

    # -- lifetime ---------------------------------------------------------------------------
    def about(self) -> None:
        QMessageBox.about(self, "About livesegment", about_text(self.segmenter))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._closed = True  # a model or source still opening is dropped when it arrives
        self._timer.stop()
        self._readout_timer.stop()
        self.export.join()
        self.capture.set_recording(False)
        self.virtual_camera.stop()
        if self.pipeline is not None:
            self.pipeline.stop()
        self.background.join(2.0)
        self._save_settings()
        super().closeEvent(event)

    def _save_settings(self) -> None:
        s = self.settings
        for panel in (self.models, self.classes, self.effects, self.mask_controls):
            panel.save(s)
        if self.source_spec:
            s.setValue("source", self.source_spec)
        s.setValue("geometry", self.saveGeometry())
        s.sync()


def readout_text(s: LiveStats, display_fps: float, latency_ms: float,
                 mask_age_ms: float) -> str:
    """The status bar's figures: what is shown, what the model does, how old each is."""
    mask = f" | mask {mask_age_ms:4.0f} ms old" if s.pace == "camera" else ""
    return (f"display {display_fps:4.1f} fps | inference {s.inference_fps:4.1f} fps"
            f" x{s.workers} | latency {latency_ms:4.0f} ms{mask} | dropped {s.dropped}"
            f" | {s.model} on {s.device} @ {s.size_label}")
