"""The live window with fake sources and models (no camera here), driven through qtbot."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import QSettings, Qt

from livesegment.core.frames import Frame
from livesegment.core.models.catalog import DEFAULT_MODEL
from livesegment.errors import SourceLost
from livesegment.gui.window import MainWindow, about_text
from livesegment.io.live_source import SyntheticSource
from tests.conftest import PERSON, fake_segmenter, make_clip, read_clip
from tests.pipeline.test_virtualcam import backend  # noqa: F401 - fixture


class DyingSource(SyntheticSource):
    """Delivers a few frames, then fails as an unplugged camera does."""

    def __init__(self, frames: int = 10) -> None:
        super().__init__(160, 120, fps=30)
        self.reads = 0
        self.frames_before_death = frames

    def read(self) -> Frame:
        self.reads += 1
        if self.reads > self.frames_before_death:
            raise SourceLost("camera 0 stopped delivering frames (unplugged?)")
        return super().read()


class BrokenModel:
    """A segmenter whose inference raises, as a bad user checkpoint might."""

    def __init__(self, good):
        self.spec, self.device, self.size, self.model = good.spec, good.device, 64, good.model

    def is_warm(self, height, width):
        return True

    def infer(self, frame):
        raise RuntimeError("shape mismatch in layer 3")


@pytest.fixture
def settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def _window(qtbot, settings, source=None, segmenter=None, delay_s=0.0, fps=30.0):
    sources = {"synthetic": lambda: SyntheticSource(160, 120, fps=fps)}
    seg = segmenter or fake_segmenter(delay_s=delay_s)

    def make_source(spec: str, resolution=None):
        if spec in sources:
            return sources[spec]()
        if callable(source):
            return source()
        from livesegment.io.live_source import open_live_source
        return open_live_source(spec, resolution)

    win = MainWindow("synthetic" if source is None else "custom",
                     segmenter_factory=lambda m, d, s, b="torch": seg, source_factory=make_source,
                     settings=settings, probe=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.last_shown is not None, timeout=10000)
    return win


def _next_frame(qtbot, win, after_index: int):
    # Also captured after this call: under load the result slot may still hold a frame that
    # was composed before the change just made, with an index already past after_index + 2.
    called_at = time.monotonic()
    qtbot.waitUntil(lambda: win.last_shown.frame.index > after_index + 2 and
                    win.last_shown.frame.captured_at > called_at, timeout=5000)
    return win.last_shown


def _red_region(composed) -> np.ndarray:
    return composed.labels == PERSON


def test_toggling_a_class_changes_exactly_its_pixels(qtbot, settings):
    win = _window(qtbot, settings)
    shown = _next_frame(qtbot, win, 0)
    person = _red_region(shown)
    assert person.any()
    assert np.any(shown.image[person] != shown.frame.bgr[person])       # painted
    assert np.array_equal(shown.image[~person], shown.frame.bgr[~person])  # the rest untouched

    win.classes.set_checked(PERSON, False)
    off = _next_frame(qtbot, win, shown.frame.index)
    assert np.array_equal(off.image, off.frame.bgr)  # nothing painted any more

    win.classes.set_checked(PERSON, True)
    on = _next_frame(qtbot, win, off.frame.index)
    assert np.any(on.image[_red_region(on)] != on.frame.bgr[_red_region(on)])


def test_opacity_slider_changes_the_next_frames_blend(qtbot, settings):
    win = _window(qtbot, settings)
    values = {}
    for percent in (0, 30, 100):
        win.effects.opacity.setValue(percent)
        shown = _next_frame(qtbot, win, win.last_shown.frame.index)
        region = _red_region(shown)
        values[percent] = np.abs(shown.image[region].astype(int) -
                                 shown.frame.bgr[region]).mean()
    assert values[0] == 0 and 0 < values[30] < values[100]
    painted = win.last_shown.image[_red_region(win.last_shown)][0]
    assert tuple(painted) == (128, 128, 192)  # opacity 1: the person colour itself (BGR)


def test_slow_model_never_shows_stale_frames(qtbot, settings):
    """Model 100 ms, camera 30 fps. The worker always takes the newest frame, captured at most
    one capture interval before it became free, so every frame on screen is at most its own
    processing time plus one capture interval old (plus a poll tick); drops are counted."""
    win = _window(qtbot, settings, delay_s=0.1)
    checked = 0
    deadline = time.monotonic() + 3
    seen = set()
    while time.monotonic() < deadline:
        qtbot.wait(5)
        shown = win.last_shown
        if shown.frame.index in seen:
            continue
        seen.add(shown.frame.index)
        own_ms = 1000 * sum(shown.timings.get(k, 0.0)
                            for k in ("preprocess", "infer", "smooth", "postprocess"))
        assert win.last_latency_ms <= own_ms + 1000 / 30 + 40, (win.last_latency_ms, own_ms)
        checked += 1
    assert checked >= 10
    assert win.pipeline.stats().dropped > 20


def test_source_that_dies_shows_an_error_and_the_window_lives(qtbot, settings):
    dying = DyingSource(frames=10)
    win = _window(qtbot, settings, source=lambda: dying)
    qtbot.waitUntil(lambda: "unplugged" in win.statusBar().currentMessage(), timeout=5000)
    assert win.retry_button.isVisible() and win.isVisible()
    reads = dying.reads
    time.sleep(0.3)
    assert dying.reads == reads  # nothing keeps polling a dead camera
    assert "livesegment-capture" not in [t.name for t in win.pipeline.threads()]
    win.retry_button.click()  # retry opens the source again
    qtbot.waitUntil(lambda: "unplugged" in win.statusBar().currentMessage() and
                    not win.busy.isVisible(), timeout=5000)


def test_model_that_raises_is_reported_and_the_previous_one_kept(qtbot, settings):
    win = _window(qtbot, settings)
    good = win.pipeline.segmenter
    win.pipeline.set_segmenter(BrokenModel(good))
    qtbot.waitUntil(lambda: "failed" in win.statusBar().currentMessage(), timeout=5000)
    assert "shape mismatch" in win.statusBar().currentMessage()
    assert win.pipeline.segmenter is good
    before = win.last_shown.frame.index
    _next_frame(qtbot, win, before)  # still painting with the good model


def test_close_joins_every_thread(qtbot, settings):
    win = _window(qtbot, settings)
    assert {t.name for t in threading.enumerate()} >= {"livesegment-infer-0", "livesegment-compose",
                                                       "livesegment-capture"}
    start = time.monotonic()
    win.close()
    assert time.monotonic() - start < 1.5
    assert not [t for t in threading.enumerate() if t.name.startswith("livesegment-")]


def test_model_loads_off_the_gui_thread(qtbot, settings):
    release = threading.Event()

    def slow_factory(model, device, size, backend="torch"):
        release.wait(5)
        return fake_segmenter()

    win = MainWindow(None, segmenter_factory=slow_factory, settings=settings, probe=False)
    qtbot.addWidget(win)
    win.show()
    ticks = []
    win._readout_timer.timeout.connect(lambda: ticks.append(1))
    qtbot.wait(600)  # the event loop runs while the model "loads"
    assert win.busy.isVisible() and len(ticks) >= 2
    release.set()
    qtbot.waitUntil(lambda: win.segmenter is not None, timeout=5000)
    assert not win.busy.isVisible()


def test_settings_persist_between_runs(qtbot, settings):
    win = _window(qtbot, settings)
    win.effects.opacity.setValue(73)
    win.classes.check_only([PERSON, 7])
    win.close()
    again = _window(qtbot, settings)
    assert again.effects.opacity.value() == 73
    assert again.classes.checked() == frozenset({PERSON, 7})


def test_snapshot_and_recording(qtbot, settings, tmp_path):
    win = _window(qtbot, settings)
    png = win.snapshot(tmp_path / "snap.png")
    assert png is not None and png.is_file()
    path = win.set_recording(True, tmp_path / "rec.mp4")
    assert path is not None
    qtbot.wait(700)
    saved = win.set_recording(False)
    times, pictures = read_clip(saved)
    assert len(pictures) >= 10 and pictures[0].shape == (120, 160, 3)
    assert 0.3 < times[-1] - times[0] < 1.5  # stamped with the real clock


def test_export_runs_in_the_background_and_opens_the_result(qtbot, settings, tmp_path):
    clip = tmp_path / "clip.mp4"
    make_clip(clip, frames=40, size=(96, 128))
    win = _window(qtbot, settings)
    win.open_source(str(clip))
    qtbot.waitUntil(lambda: win.source_spec == str(clip), timeout=5000)
    out = tmp_path / "annotated.mp4"
    win.start_export(out)
    assert win.export.progress.isVisible() and win.export.cancel_button.isVisible()
    qtbot.waitUntil(lambda: win.source_spec == str(out), timeout=30000)
    assert len(read_clip(out)[1]) == 40
    assert "Exported 40 frames" in win.statusBar().currentMessage() or win.source_spec == str(out)


def test_export_cancel_keeps_a_playable_partial(qtbot, settings, tmp_path):
    clip = tmp_path / "long.mp4"
    make_clip(clip, frames=300, size=(96, 128))
    win = _window(qtbot, settings, segmenter=fake_segmenter(delay_s=0.02))
    win.open_source(str(clip))
    qtbot.waitUntil(lambda: win.source_spec == str(clip), timeout=5000)
    win.start_export(tmp_path / "out.mp4")
    qtbot.wait(500)
    win.export.cancel_button.click()
    qtbot.waitUntil(lambda: not win.export.progress.isVisible(), timeout=10000)
    assert "Export cancelled" in win.statusBar().currentMessage()
    partial = tmp_path / "out.partial.mp4"
    assert 0 < len(read_clip(partial)[1]) < 300 and not (tmp_path / "out.mp4").exists()


def test_unreadable_file_is_reported(qtbot, settings, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    win = _window(qtbot, settings)
    win.open_source(str(bad))
    qtbot.waitUntil(lambda: "cannot read video" in win.statusBar().currentMessage(),
                    timeout=5000)
    assert win.isVisible()


def test_shortcuts_and_about(qtbot, settings):
    win = _window(qtbot, settings)
    qtbot.keyClick(win, Qt.Key.Key_Space)
    assert win.pipeline.paused and win.capture.pause_button.text() == "Resume"
    qtbot.keyClick(win, Qt.Key.Key_Space)
    assert not win.pipeline.paused
    qtbot.keyClick(win, Qt.Key.Key_M)
    assert win.classes.mask_only.isChecked()
    win.effects.opacity.setValue(50)
    qtbot.keyClick(win, Qt.Key.Key_Plus)
    assert win.effects.opacity.value() == 60
    qtbot.keyClick(win, Qt.Key.Key_Minus)
    qtbot.keyClick(win, Qt.Key.Key_Minus)
    assert win.effects.opacity.value() == 40
    qtbot.keyClick(win, Qt.Key.Key_F11)
    assert win.isFullScreen() and not any(d.isVisible() for d in win.docks)
    qtbot.keyClick(win, Qt.Key.Key_Escape)
    assert not win.isFullScreen() and all(d.isVisible() for d in win.docks)
    text = about_text(win.segmenter)
    assert "torch" in text and "torchvision" in text and "Device in use: cpu" in text


def test_weights_that_cannot_be_downloaded_keep_the_current_model(qtbot, settings):
    from livesegment.errors import WeightsError

    good = fake_segmenter()

    def factory(model, device, size, backend="torch"):
        if model != DEFAULT_MODEL:
            raise WeightsError(f"weights for model {model} are not in the cache (/x) and could "
                               "not be downloaded (offline); connect to the network once or "
                               "pass --weights FILE")
        return good

    win = MainWindow("synthetic", segmenter_factory=factory, probe=False, settings=settings,
                     source_factory=lambda s, r=None: SyntheticSource(160, 120, fps=30))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.last_shown is not None, timeout=10000)
    win.models.model_box.setCurrentText("deeplabv3-resnet50")
    win.load_model()
    qtbot.waitUntil(lambda: "could not be downloaded" in win.statusBar().currentMessage(),
                    timeout=5000)
    # the fake segmenter is espnetv2-voc's spec, whatever name the window asked for
    assert "kept espnetv2-voc" in win.statusBar().currentMessage()
    assert win.models.model_box.currentText() == "espnetv2-voc" and win.segmenter is good
    before = win.last_shown.frame.index
    qtbot.waitUntil(lambda: win.last_shown.frame.index > before, timeout=5000)


def test_camera_resolution_is_passed_to_the_camera(qtbot, settings):
    asked = []

    def make_source(spec, resolution=None):
        asked.append((spec, resolution))
        return SyntheticSource(*(resolution or (160, 120)), fps=30)

    win = MainWindow("0", segmenter_factory=lambda m, d, s, b="torch": fake_segmenter(),
                     source_factory=make_source, settings=settings, probe=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.last_shown is not None, timeout=10000)
    win.sources.resolution_box.setCurrentIndex(win.sources.resolution_box.findText("640x480"))
    win._resolution_changed()
    qtbot.waitUntil(lambda: win.last_shown.image.shape[:2] == (480, 640), timeout=5000)
    assert asked == [("0", None), ("0", (640, 480))]


@pytest.mark.parametrize("cameras, expected", [([], "sample"), ([3], "3")])
def test_first_start_shows_a_camera_or_else_the_sample(qtbot, settings, monkeypatch, cameras,
                                                      expected):
    from livesegment.io.sample import sample_clip

    monkeypatch.setattr("livesegment.gui.window.probe_cameras", lambda: cameras)
    opened: list[str] = []

    def make_source(spec: str, resolution=None):
        opened.append(spec)
        return SyntheticSource(160, 120, fps=30)

    win = MainWindow(None, segmenter_factory=lambda m, d, s, b="torch": fake_segmenter(),
                     source_factory=make_source, settings=settings, probe=True)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.last_shown is not None, timeout=10000)
    want = str(sample_clip()) if expected == "sample" else expected
    assert opened == [want] and win.source_spec == want
    if expected == "sample":
        qtbot.waitUntil(lambda: "no camera found" in win.statusBar().currentMessage())
        assert win.sources.source_box.currentText() == "Sample clip"
    win.close()


def test_virtual_camera_toggle_sends_the_shown_picture(qtbot, settings, backend):  # noqa: F811
    win = _window(qtbot, settings)
    win.virtual_camera.setChecked(True)
    qtbot.waitUntil(lambda: win.virtual_camera.feed is not None
                    and win.virtual_camera.feed.sent >= 10, timeout=10000)
    rec = backend.instances[0]
    assert (rec.width, rec.height, rec.fps) == (160, 120, 30)
    shown = win.last_shown.image
    assert rec.frames[-1].size == shown.size
    win.virtual_camera.setChecked(False)  # released at once
    assert win.virtual_camera.feed is None and rec.closed
    win.close()


def test_virtual_camera_without_a_device_is_reported_and_unchecked(qtbot, settings,
                                                                   monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "pyvirtualcam", None)
    win = _window(qtbot, settings)
    win.virtual_camera.setChecked(True)
    qtbot.waitUntil(lambda: not win.virtual_camera.isChecked(), timeout=5000)
    assert "virtual camera: the virtual camera needs pyvirtualcam" in \
        win.statusBar().currentMessage()
    assert win.last_shown is not None and win.pipeline is not None  # the window lives on
    win.close()


def test_camera_pace_and_auto_size_from_the_model_panel(qtbot, settings):
    """A 5 fps model (two workers: 10 fps) under a 30 fps camera: at the camera's pace the
    window shows more frames than the model makes, and the status bar gives the mask's age
    and the auto size."""
    win = _window(qtbot, settings, delay_s=0.2)
    win.models.set_pace("camera")
    win.models.pace_changed.emit()
    assert win.pipeline.pace == "camera"
    win.models.size_box.setCurrentIndex(win.models.size_box.findData("auto"))
    win.models.size_changed.emit()
    start = win.last_shown.frame.index
    qtbot.waitUntil(lambda: win.last_shown.mask_age_s > 0.05, timeout=5000)
    qtbot.waitUntil(lambda: win.last_shown.frame.index > start + 20, timeout=5000)
    stats = win.pipeline.stats()
    assert stats.display_fps > 1.5 * stats.inference_fps
    win._update_readouts()
    text = win.readout.text()
    assert " ms old | " in text and "x2" in text and "@ auto " in text, text
    win.close()
    reopened = MainWindow(None, segmenter_factory=lambda m, d, s, b="torch": fake_segmenter(),
                          settings=settings, probe=False)
    qtbot.addWidget(reopened)
    assert reopened.models.pace() == "camera" and reopened.models.auto_size()  # remembered


def test_engine_choice_reloads_the_model_with_that_backend(qtbot, settings):
    asked = []

    def factory(model, device, size, backend="torch"):
        asked.append(backend)
        return fake_segmenter()

    win = MainWindow("synthetic", segmenter_factory=factory, probe=False, settings=settings,
                     source_factory=lambda s, r=None: SyntheticSource(160, 120, fps=30))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.last_shown is not None, timeout=10000)
    win.models.backend_box.setCurrentIndex(win.models.backend_box.findData("onnxruntime"))
    win.models.model_changed.emit()
    qtbot.waitUntil(lambda: asked == ["torch", "onnxruntime"], timeout=5000)


@pytest.mark.parametrize("geometry", ["", "not a geometry", b"\x00\x01junk"])
def test_a_damaged_settings_file_opens_the_window_at_its_default_size(qtbot, tmp_path, geometry):
    """A hand-edited settings file (geometry= with nothing after it) raised a TypeError and the
    window never opened."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("geometry", geometry)
    settings.setValue("pace", "sideways")
    settings.sync()
    win = MainWindow(None, segmenter_factory=lambda m, d, s, b="torch": fake_segmenter(),
                     settings=settings, probe=False)
    qtbot.addWidget(win)
    assert (win.width(), win.height()) == (1280, 760) and win.models.pace() == "newest"


def test_the_source_asked_for_wins_over_the_camera_probe(qtbot, settings, monkeypatch):
    """The probe (no camera: the sample clip) finished before a slow source opened and the
    window showed the sample instead of the file given on the command line."""
    monkeypatch.setattr("livesegment.gui.window.probe_cameras", lambda: [])
    opened = []

    def slow_source(spec, resolution=None):
        opened.append(spec)
        if spec == "wanted":
            time.sleep(0.5)
        return SyntheticSource(160, 120, fps=30)

    win = MainWindow("wanted", segmenter_factory=lambda m, d, s, b="torch": fake_segmenter(),
                     source_factory=slow_source, settings=settings, probe=True)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.source_spec == "wanted", timeout=5000)
    time.sleep(0.3)
    qtbot.wait(50)
    assert opened == ["wanted"] and win.source_spec == "wanted"


def test_a_model_that_finishes_loading_after_close_starts_nothing(qtbot, settings):
    """Closed while its model loaded, the window built a live pipeline when the model arrived:
    its threads kept the process from exiting."""
    release = threading.Event()

    def slow_factory(model, device, size, backend="torch"):
        release.wait(5)
        return fake_segmenter()

    opened = []

    def source(spec, resolution=None):
        opened.append(SyntheticSource(160, 120, fps=30))
        return opened[-1]

    win = MainWindow("synthetic", segmenter_factory=slow_factory, source_factory=source,
                     settings=settings, probe=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: bool(opened), timeout=5000)  # the source is open, the model not
    threading.Timer(0.2, release.set).start()
    win.close()
    qtbot.wait(500)  # the queued model_ready and source retries are delivered now
    assert win.pipeline is None
    assert not [t for t in threading.enumerate() if t.name.startswith("livesegment-")]
