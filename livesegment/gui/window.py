"""The main window: live overlay, controls, readouts, export. No maths here: it drives the
pipeline and shows what comes out.

Work that can take time (loading a model, opening a camera, exporting a video) runs on plain
threads; results come back through Qt signals, which queue onto the GUI thread. A timer polls
the pipeline's newest-result slot and paints it; readouts refresh four times a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import torch
from PyQt6.QtCore import QObject, QSettings, QStandardPaths, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QCheckBox, QComboBox, QDockWidget, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
    QMainWindow, QMessageBox, QProgressBar, QPushButton, QSlider, QVBoxLayout, QWidget,
)

from livesegment import __version__
from livesegment.core.device import available_devices
from livesegment.core.overlay import OverlayStyle
from livesegment.core.segmenter import Segmenter
from livesegment.core.zoo import DEFAULT_MODEL, REGISTRY, get_spec
from livesegment.errors import LivesegmentError
from livesegment.errors import describe
from livesegment.core.smoothing import MaskOptions
from livesegment.gui.mask_controls import MaskControls
from livesegment.gui.widgets import ClassList, VideoView
from livesegment.io.images import write_image
from livesegment.io.live import LiveSource, open_live_source, probe_cameras
from livesegment.pipeline.job import JobReport, Progress, process_file
from livesegment.pipeline.live import LivePipeline
from livesegment.pipeline.recorder import Recorder
from livesegment.pipeline.stats import RateMeter

SIZES = (128, 192, 256, 320, 384, 448, 512, 640, 768, 1024)
POLL_MS = 8
READOUT_MS = 250
OPEN_VIDEO = "Open video…"

SegmenterFactory = Callable[[str, str, int | None], Segmenter]
SourceFactory = Callable[[str, "tuple[int, int] | None"], LiveSource]
RESOLUTIONS = (None, (640, 480), (1280, 720), (1920, 1080))


def _create_segmenter(model: str, device: str, size: int | None) -> Segmenter:
    return Segmenter.create(model, device, size)


class Signals(QObject):
    """Cross-thread messages; emitted from worker threads, delivered on the GUI thread."""

    error = pyqtSignal(str, bool)  # message, retryable
    notice = pyqtSignal(str)
    ended = pyqtSignal()
    model_ready = pyqtSignal(object, object)  # Segmenter, ticket
    model_failed = pyqtSignal(str, object)
    source_ready = pyqtSignal(object, str)  # LiveSource, spec
    source_failed = pyqtSignal(str, str)
    cameras_found = pyqtSignal(object)
    export_progress = pyqtSignal(object)
    export_done = pyqtSignal(object)
    export_failed = pyqtSignal(str)


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
        self.signals = Signals()
        self.pipeline: LivePipeline | None = None
        self.segmenter: Segmenter | None = None
        self.source_spec: str | None = None
        self.recorder: Recorder | None = None
        self.display_rate = RateMeter()
        self.last_latency_ms = 0.0
        self.last_shown = None
        self._model_ticket = 0
        self._export_stop: threading.Event | None = None
        self._export_thread: threading.Thread | None = None
        self._helpers: list[threading.Thread] = []
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
            self._run_helper(lambda: self.signals.cameras_found.emit(probe_cameras()))
        initial = source or self.settings.value("source", None, str)
        if initial:
            self.open_source(initial)

    # -- construction -----------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.view = VideoView()
        self.setCentralWidget(self.view)

        panel = QWidget()
        layout = QVBoxLayout(panel)
        form = QFormLayout()
        self.source_box = QComboBox()
        self.source_box.addItem(OPEN_VIDEO)
        self.resolution_box = QComboBox()
        for res in RESOLUTIONS:
            self.resolution_box.addItem("Camera default" if res is None else f"{res[0]}x{res[1]}",
                                        res)
        self.model_box = QComboBox()
        for spec in REGISTRY.values():
            self.model_box.addItem(spec.name)
        self.device_box = QComboBox()
        self.device_box.addItems(available_devices())
        self.size_box = QComboBox()
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity_label = QLabel()
        opacity_row = QHBoxLayout()
        opacity_row.addWidget(self.opacity)
        opacity_row.addWidget(self.opacity_label)
        form.addRow("Source", self.source_box)
        form.addRow("Resolution", self.resolution_box)
        form.addRow("Model", self.model_box)
        form.addRow("Device", self.device_box)
        form.addRow("Size", self.size_box)
        form.addRow("Opacity", opacity_row)
        layout.addLayout(form)

        self.classes = ClassList()
        layout.addWidget(QLabel("Classes"))
        layout.addWidget(self.classes, 1)
        buttons = QHBoxLayout()
        self.all_button = QPushButton("All")
        self.none_button = QPushButton("None")
        self.usual_button = QPushButton("Usual")
        for b in (self.all_button, self.none_button, self.usual_button):
            buttons.addWidget(b)
        layout.addLayout(buttons)
        self.mask_only = QCheckBox("Mask only")
        layout.addWidget(self.mask_only)
        self.mask_controls = MaskControls()
        layout.addWidget(self.mask_controls)

        actions = QHBoxLayout()
        self.pause_button = QPushButton("Pause")
        self.snapshot_button = QPushButton("Snapshot")
        self.record_button = QPushButton("Record")
        self.record_button.setCheckable(True)
        for b in (self.pause_button, self.snapshot_button, self.record_button):
            actions.addWidget(b)
        layout.addLayout(actions)
        self.export_button = QPushButton("Export annotated video…")
        layout.addWidget(self.export_button)

        dock = QDockWidget("Controls", self)
        dock.setObjectName("controls")
        dock.setWidget(panel)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.dock = dock

        bar = self.statusBar()
        self.readout = QLabel("")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.busy.hide()
        self.export_progress = QProgressBar()
        self.export_progress.setRange(0, 1000)
        self.export_progress.setMaximumWidth(220)
        self.export_progress.hide()
        self.export_cancel = QPushButton("Cancel")
        self.export_cancel.hide()
        self.retry_button = QPushButton("Retry")
        self.retry_button.hide()
        bar.addPermanentWidget(self.retry_button)
        bar.addPermanentWidget(self.export_progress)
        bar.addPermanentWidget(self.export_cancel)
        bar.addPermanentWidget(self.busy)
        bar.addPermanentWidget(self.readout)

        self._add_actions()

    def _add_actions(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        view_menu = menu.addMenu("&View")
        help_menu = menu.addMenu("&Help")
        entries = [
            (file_menu, "&Open video…", "Ctrl+O", self.choose_video),
            (file_menu, "&Export annotated video…", "Ctrl+E", self.choose_export),
            (file_menu, "&Snapshot", "S", self.snapshot),
            (file_menu, "&Record", "R", lambda: self.record_button.toggle()),
            (file_menu, "&Quit", "Ctrl+Q", self.close),
            (view_menu, "&Pause / resume", "Space", self.toggle_pause),
            (view_menu, "&Fullscreen", "F11", self.toggle_fullscreen),
            (view_menu, "&Mask only", "M", lambda: self.mask_only.toggle()),
            (view_menu, "Increase opacity", "+", lambda: self.opacity.setValue(self.opacity.value() + 10)),
            (view_menu, "Decrease opacity", "-", lambda: self.opacity.setValue(self.opacity.value() - 10)),
            (help_menu, "&About", None, self.about),
        ]
        self.actions_by_name: dict[str, QAction] = {}
        for menu_, text, keys, slot in entries:
            action = QAction(text, self)
            if keys:
                action.setShortcut(QKeySequence(keys))
                action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
            action.triggered.connect(slot)
            menu_.addAction(action)
            self.addAction(action)
            self.actions_by_name[text.replace("&", "")] = action
        escape = QAction("Leave fullscreen", self)
        escape.setShortcut(QKeySequence("Esc"))
        escape.triggered.connect(lambda: self.isFullScreen() and self.toggle_fullscreen())
        self.addAction(escape)

    def _connect(self) -> None:
        s = self.signals
        s.error.connect(self.show_error)
        s.notice.connect(lambda m: self.statusBar().showMessage(m, 8000))
        s.ended.connect(lambda: self.statusBar().showMessage("End of video", 8000))
        s.model_ready.connect(self._model_ready)
        s.model_failed.connect(self._model_failed)
        s.source_ready.connect(self._source_ready)
        s.source_failed.connect(self._source_failed)
        s.cameras_found.connect(self._cameras_found)
        s.export_progress.connect(self._export_progress)
        s.export_done.connect(self._export_done)
        s.export_failed.connect(self._export_failed)
        self.model_box.activated.connect(lambda _i: self.load_model())
        self.device_box.activated.connect(lambda _i: self.load_model())
        self.size_box.activated.connect(lambda _i: self._size_changed())
        self.source_box.activated.connect(self._source_chosen)
        self.resolution_box.activated.connect(lambda _i: self._resolution_changed())
        self.opacity.valueChanged.connect(self._opacity_changed)
        self.classes.selection_changed.connect(lambda _ids: self._style_changed())
        self.mask_only.toggled.connect(lambda _on: self._style_changed())
        self.mask_controls.changed.connect(self._masks_changed)
        self.all_button.clicked.connect(self._check_all)
        self.none_button.clicked.connect(lambda: self.classes.check_only(()))
        self.usual_button.clicked.connect(self._check_usual)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.snapshot_button.clicked.connect(self.snapshot)
        self.record_button.toggled.connect(self.set_recording)
        self.export_button.clicked.connect(self.choose_export)
        self.export_cancel.clicked.connect(self.cancel_export)
        self.retry_button.clicked.connect(self.retry_source)

    def _restore(self, model: str | None) -> None:
        name = model or self.settings.value("model", DEFAULT_MODEL, str)
        if name not in REGISTRY:
            name = DEFAULT_MODEL
        self.model_box.setCurrentText(name)
        device = self.settings.value("device", "auto", str)
        if device in available_devices():
            self.device_box.setCurrentText(device)
        self.opacity.setValue(int(self.settings.value("opacity", 50, int)))
        self._opacity_changed(self.opacity.value())
        default = MaskOptions()
        self.mask_controls.set_options(MaskOptions(
            self.settings.value("smoothing", default.smoothing, float),
            self.settings.value("refine", default.refine, bool)))
        self._fill_sizes(get_spec(name), self.settings.value("size", 0, int) or None)
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 760)

    # -- model ------------------------------------------------------------------------------
    def _fill_sizes(self, spec, wanted: int | None = None) -> None:
        self.size_box.clear()
        for size in SIZES:
            if size % spec.size_multiple == 0:
                label = f"{size}" + (" (default)" if size == spec.default_size else "")
                self.size_box.addItem(label, size)
        index = self.size_box.findData(wanted or spec.default_size)
        self.size_box.setCurrentIndex(max(0, index))

    def current_size(self) -> int | None:
        return self.size_box.currentData()

    def load_model(self) -> None:
        """Loads the selected model on a worker thread; the window keeps painting meanwhile."""
        name = self.model_box.currentText()
        spec = get_spec(name)
        size = self.current_size()
        if size is None or size % spec.size_multiple:
            self._fill_sizes(spec)
            size = self.current_size()
        device = self.device_box.currentText()
        self._model_ticket += 1
        ticket = self._model_ticket
        self.busy.show()
        self.statusBar().showMessage(f"Loading {name} on {device}…")

        def work() -> None:
            try:
                seg = self._make_segmenter(name, device, size)
            except Exception as exc:  # noqa: BLE001 - shown in the status bar
                self.signals.model_failed.emit(f"cannot load {name}: {describe(exc)}", ticket)
                return
            self.signals.model_ready.emit(seg, ticket)

        self._run_helper(work)

    def _model_ready(self, seg: Segmenter, ticket: int) -> None:
        if ticket != self._model_ticket:
            return  # a newer choice superseded this one
        self.busy.hide()
        previous = self.segmenter
        self.segmenter = seg
        if previous is None or previous.spec is not seg.spec:
            stored = self.settings.value(f"classes/{seg.spec.name}", None)
            ids = [int(i) for i in stored] if isinstance(stored, list) else None
            self.classes.set_model(seg.spec, ids)
        style = self.current_style()
        if self.pipeline is None:
            self.pipeline = LivePipeline(seg, style, on_error=self.signals.error.emit,
                                         on_notice=self.signals.notice.emit,
                                         on_end=self.signals.ended.emit,
                                         masks=self.mask_controls.options())
        else:
            self.pipeline.set_style(style)
            self.pipeline.set_segmenter(seg)
        self.statusBar().showMessage(f"{seg.spec.title} ready on {seg.device.type}", 5000)
        self.view.show_message("Choose a source: a camera or Open video…")

    def _model_failed(self, message: str, ticket: int) -> None:
        if ticket != self._model_ticket:
            return
        self.busy.hide()
        if self.segmenter is not None:  # keep what worked, show what did not
            self.model_box.setCurrentText(self.segmenter.spec.name)
            message += f"; kept {self.segmenter.spec.name}"
        self.show_error(message, False)

    def _size_changed(self) -> None:
        size = self.current_size()
        if self.segmenter is not None and self.pipeline is not None and size:
            seg = self.segmenter.with_size(size)
            self.segmenter = seg
            self.pipeline.set_segmenter(seg)

    # -- overlay style ----------------------------------------------------------------------
    def current_style(self) -> OverlayStyle:
        spec = self.segmenter.spec if self.segmenter else get_spec(self.model_box.currentText())
        return OverlayStyle(spec.palette, spec.background, self.opacity.value() / 100,
                            self.classes.checked() if self.classes.count() else None,
                            self.mask_only.isChecked())

    def _style_changed(self) -> None:
        if self.pipeline is not None and self.segmenter is not None:
            self.pipeline.set_style(self.current_style())

    def _masks_changed(self, masks: MaskOptions) -> None:
        if self.pipeline is not None:
            self.pipeline.set_masks(masks)

    def _opacity_changed(self, value: int) -> None:
        self.opacity_label.setText(f"{value}%")
        self._style_changed()

    def _check_all(self) -> None:
        if self.segmenter is not None:
            self.classes.check_only(range(self.segmenter.spec.num_classes))

    def _check_usual(self) -> None:
        if self.segmenter is not None:
            spec = self.segmenter.spec
            self.classes.check_only(spec.class_id(n) for n in spec.default_classes)

    # -- sources ----------------------------------------------------------------------------
    def _cameras_found(self, indices: list[int]) -> None:
        for index in indices:
            label = f"Camera {index}"
            if self.source_box.findText(label) < 0:
                self.source_box.insertItem(self.source_box.count() - 1, label, str(index))

    def _source_chosen(self, index: int) -> None:
        if self.source_box.itemText(index) == OPEN_VIDEO:
            self.choose_video()
        else:
            self.open_source(self.source_box.itemData(index) or self.source_box.itemText(index))

    def choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video", "",
                                              "Videos (*.mp4 *.mkv *.mov *.avi *.webm *.m4v);;"
                                              "All files (*)")
        if path:
            self.open_source(path)

    def open_source(self, spec: str) -> None:
        """Opens a camera, file or URL on a worker thread (camera drivers can block)."""
        self.busy.show()
        self.retry_button.hide()
        self.statusBar().showMessage(f"Opening {spec}…")

        resolution = self.resolution_box.currentData()

        def work() -> None:
            try:
                source = self._make_source(spec, resolution)
            except Exception as exc:  # noqa: BLE001 - shown in the status bar
                self.signals.source_failed.emit(describe(exc), spec)
                return
            self.signals.source_ready.emit(source, spec)

        self._run_helper(work)

    def _source_ready(self, source: LiveSource, spec: str) -> None:
        self.busy.hide()
        if self.pipeline is None:  # the model is still loading: try again shortly
            QTimer.singleShot(100, lambda: self._source_ready(source, spec))
            return
        self.source_spec = spec
        self.pipeline.set_source(source)
        if self.source_box.findData(spec) < 0 and self.source_box.findText(spec) < 0:
            self.source_box.insertItem(self.source_box.count() - 1, Path(spec).name, spec)
        index = max(self.source_box.findData(spec), self.source_box.findText(spec))
        self.source_box.setCurrentIndex(index)
        self.statusBar().showMessage(f"Showing {source.name}", 5000)

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

    def show_error(self, message: str, retryable: bool) -> None:
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
        if self.recorder is not None:
            self.recorder.add(composed.image, composed.frame.captured_at)

    def _update_readouts(self) -> None:
        if self.pipeline is None:
            return
        s = self.pipeline.stats()
        self.readout.setText(
            f"display {self.display_rate.rate():4.1f} fps | inference {s.inference_fps:4.1f} fps"
            f" | latency {self.last_latency_ms:4.0f} ms | dropped {s.dropped}"
            f" | {s.model} on {s.device} @ {s.size}")

    # -- actions ----------------------------------------------------------------------------
    def toggle_pause(self) -> None:
        if self.pipeline is None:
            return
        paused = not self.pipeline.paused
        self.pipeline.set_paused(paused)
        self.pause_button.setText("Resume" if paused else "Pause")

    def toggle_fullscreen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
            self.dock.show()
        else:
            self.dock.hide()
            self.showFullScreen()

    @staticmethod
    def _media_path(kind: QStandardPaths.StandardLocation, suffix: str) -> Path:
        """A new time-stamped file in the user's Pictures/Videos folder (cwd if none)."""
        folder = Path(QStandardPaths.writableLocation(kind) or Path.cwd())
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"livesegment-{datetime.now():%Y%m%d-%H%M%S}{suffix}"

    def snapshot(self, path: Path | None = None) -> Path | None:
        frame = self.view.current_frame()
        if frame is None:
            self.statusBar().showMessage("Nothing to snapshot yet", 4000)
            return None
        path = path or self._media_path(QStandardPaths.StandardLocation.PicturesLocation, ".png")
        try:
            write_image(Path(path), frame)
        except (LivesegmentError, OSError) as exc:
            self.show_error(f"snapshot failed: {describe(exc)}", False)
            return None
        self.statusBar().showMessage(f"Saved {path}", 6000)
        return Path(path)

    def set_recording(self, on: bool, path: Path | None = None) -> Path | None:
        if on and self.recorder is None:
            frame = self.view.current_frame()
            if frame is None:
                self.record_button.setChecked(False)
                self.statusBar().showMessage("Nothing to record yet", 4000)
                return None
            path = path or self._media_path(QStandardPaths.StandardLocation.MoviesLocation,
                                            ".mp4")
            try:
                self.recorder = Recorder(Path(path), frame.shape[1], frame.shape[0])
            except (LivesegmentError, OSError) as exc:
                self.record_button.setChecked(False)
                self.show_error(f"cannot record: {describe(exc)}", False)
                return None
            self.record_button.setText("Stop recording")
            self.statusBar().showMessage(f"Recording to {path}")
            return Path(path)
        if not on and self.recorder is not None:
            recorder, self.recorder = self.recorder, None
            self.record_button.setText("Record")
            try:
                saved = recorder.stop()
            except Exception as exc:  # noqa: BLE001
                self.show_error(f"recording failed: {describe(exc)}", False)
                return None
            self.statusBar().showMessage(f"Saved recording {saved}", 8000)
            return saved
        return None

    # -- export -----------------------------------------------------------------------------
    def choose_export(self) -> None:
        if not self.source_spec or not Path(self.source_spec).is_file():
            self.show_error("export needs a video file as the source (Open video…)", False)
            return
        src = Path(self.source_spec)
        suggestion = str(src.with_name(f"{src.stem}-annotated.mp4"))
        path, _ = QFileDialog.getSaveFileName(self, "Export annotated video", suggestion,
                                              "MP4 video (*.mp4);;Matroska (*.mkv)")
        if path:
            self.start_export(Path(path))

    def start_export(self, output: Path) -> None:
        """Runs the offline engine on the open file in the background; the window stays live."""
        if self._export_thread is not None or self.segmenter is None or not self.source_spec:
            return
        source = Path(self.source_spec)
        seg = self.segmenter.with_size(self.segmenter.size)
        style = self.current_style()
        masks = self.mask_controls.options()
        stop = threading.Event()
        self._export_stop = stop

        def work() -> None:
            try:
                # The live view keeps its own model object; torch modules are safe to share for
                # inference, and each thread runs its own forward pass.
                report = process_file(source, output, seg, style, stop=stop,
                                      on_progress=self.signals.export_progress.emit,
                                      mask_options=masks)
            except Exception as exc:  # noqa: BLE001 - shown in the status bar
                self.signals.export_failed.emit(describe(exc))
                return
            self.signals.export_done.emit(report)

        self.export_progress.setValue(0)
        self.export_progress.setFormat("Export %p%")
        self.export_progress.show()
        self.export_cancel.show()
        self.export_button.setEnabled(False)
        self._export_thread = threading.Thread(target=work, name="livesegment-export")
        self._export_thread.start()

    def cancel_export(self) -> None:
        if self._export_stop is not None:
            self._export_stop.set()

    def _export_progress(self, p: Progress) -> None:
        if p.total_s > 0:
            frac = min(1.0, p.media_s / p.total_s)
            eta = p.elapsed_s * (1 - frac) / frac if frac > 0 else 0
            self.export_progress.setValue(int(frac * 1000))
            self.export_progress.setFormat(f"Export %p% · ETA {int(eta) // 60}:{int(eta) % 60:02d}")

    def _export_finished(self) -> None:
        if self._export_thread is not None:
            self._export_thread.join()
        self._export_thread = None
        self._export_stop = None
        self.export_progress.hide()
        self.export_cancel.hide()
        self.export_button.setEnabled(True)

    def _export_done(self, report: JobReport) -> None:
        self._export_finished()
        if report.interrupted:
            where = f"; {report.frames} frames kept in {report.output}" if report.output else ""
            self.statusBar().showMessage(f"Export cancelled{where}", 10000)
            return
        self.statusBar().showMessage(f"Exported {report.frames} frames to {report.output}",
                                     10000)
        self.last_export = report
        self.open_source(str(report.output))

    def _export_failed(self, message: str) -> None:
        self._export_finished()
        self.show_error(f"export failed: {message}", False)

    # -- lifetime ---------------------------------------------------------------------------
    def _run_helper(self, work: Callable[[], None]) -> None:
        thread = threading.Thread(target=work, name="livesegment-helper")
        self._helpers = [t for t in self._helpers if t.is_alive()] + [thread]
        thread.start()

    def about(self) -> None:
        QMessageBox.about(self, "About livesegment", about_text(self.segmenter))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._timer.stop()
        self._readout_timer.stop()
        self.cancel_export()
        if self._export_thread is not None:
            self._export_thread.join()
        if self.recorder is not None:
            self.set_recording(False)
        if self.pipeline is not None:
            self.pipeline.stop()
        for thread in self._helpers:
            thread.join(2.0)
        self._save_settings()
        super().closeEvent(event)

    def _save_settings(self) -> None:
        s = self.settings
        s.setValue("model", self.model_box.currentText())
        s.setValue("device", self.device_box.currentText())
        s.setValue("size", self.current_size() or 0)
        s.setValue("opacity", self.opacity.value())
        s.setValue("smoothing", self.mask_controls.options().smoothing)
        s.setValue("refine", self.mask_controls.options().refine)
        if self.segmenter is not None:
            s.setValue(f"classes/{self.segmenter.spec.name}", sorted(self.classes.checked()))
        if self.source_spec:
            s.setValue("source", self.source_spec)
        s.setValue("geometry", self.saveGeometry())
        s.sync()


def about_text(segmenter: Segmenter | None) -> str:
    try:
        import torchvision

        vision = torchvision.__version__
    except (ImportError, RuntimeError):
        vision = "not installed"
    cuda = torch.version.cuda or "none"
    device = "none yet"
    if segmenter is not None:
        device = segmenter.device.type
        if segmenter.device.type == "cuda":
            device += f" ({torch.cuda.get_device_name(segmenter.device)})"
    return (f"livesegment {__version__}\n\n"
            f"torch {torch.__version__}, torchvision {vision}, CUDA {cuda}\n"
            f"Device in use: {device}\n\n"
            "Default model: ESPNetv2 (Mehta et al., CVPR 2019); weights from "
            "sacmehta/EdgeNets, MIT licence.")
