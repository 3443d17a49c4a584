"""The virtual camera sink through a registered fake pyvirtualcam backend: frames, format,
order, pace, a stalled consumer, the on-demand pause, and the messages when parts are missing."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from livesegment.errors import OutputError
from livesegment.io import virtualcam
from livesegment.io.virtualcam import VirtualCamera, processes_holding, setup_hint
from livesegment.pipeline.virtualcam import VirtualCameraFeed

pyvirtualcam = pytest.importorskip("pyvirtualcam")


class RecordingBackend:
    """A pyvirtualcam backend that keeps what it was sent; its 'device' is a plain file, so a
    test can play the video call by opening it."""

    instances: list[RecordingBackend] = []
    device_path = ""
    stall = threading.Event()  # set: send() blocks, as a stuck consumer would

    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        self.width, self.height, self.fps, self.fourcc = width, height, fps, fourcc
        self._device = device or RecordingBackend.device_path
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self.closed = False
        RecordingBackend.instances.append(self)

    def send(self, frame):
        while RecordingBackend.stall.is_set():
            time.sleep(0.01)
        self.frames.append(frame.copy())
        self.times.append(time.monotonic())

    def close(self):
        self.closed = True

    def device(self):
        return self._device

    def native_fourcc(self):
        return self.fourcc


@pytest.fixture
def backend(tmp_path):
    device = tmp_path / "video42"
    device.write_bytes(b"")
    RecordingBackend.instances.clear()
    RecordingBackend.device_path = str(device)
    RecordingBackend.stall.clear()
    pyvirtualcam.register_backend("recording", RecordingBackend)
    yield RecordingBackend
    RecordingBackend.stall.clear()
    pyvirtualcam.camera.BACKENDS.pop("recording", None)


def picture(value: int, h: int = 48, w: int = 64) -> np.ndarray:
    bgr = np.zeros((h, w, 3), np.uint8)
    bgr[..., 0], bgr[..., 1], bgr[..., 2] = value % 256, 7, value // 256
    return bgr


def value_of(sent: np.ndarray) -> int:
    """The number :func:`picture` drew, read back from what the device received."""
    first = sent.reshape(-1)[:3]
    return int(first[0]) + 256 * int(first[2])


def test_frames_reach_the_device_as_bgr_of_the_right_size(backend):
    cam = VirtualCamera(64, 48, 30, backend="recording")
    cam.send(picture(10))
    cam.close()
    rec = backend.instances[0]
    assert rec.fourcc == pyvirtualcam.util.encode_fourcc(pyvirtualcam.PixelFormat.BGR.value)
    assert (rec.width, rec.height, rec.fps) == (64, 48, 30)
    assert np.array_equal(rec.frames[0].reshape(48, 64, 3), picture(10)) and rec.closed
    assert cam.device.endswith("video42") and cam.backend == "recording"


def test_feed_sends_at_the_device_rate_newest_first_in_order(backend):
    feed = VirtualCameraFeed(VirtualCamera(64, 48, 20, backend="recording"))
    start = time.monotonic()
    value = 0
    while time.monotonic() - start < 1.5:  # a producer at ~200 fps, far above the camera's 20
        feed.offer(picture(value))
        value += 1
        time.sleep(0.005)
    feed.close()
    rec = backend.instances[0]
    rate = (len(rec.times) - 1) / (rec.times[-1] - rec.times[0])
    assert 17 <= rate <= 23
    values = [value_of(f) for f in rec.frames]
    assert all(b >= a for a, b in zip(values, values[1:]))  # never an older picture after a newer
    assert feed.dropped > 100 and feed.fresh <= feed.sent


def test_feed_repeats_the_last_picture_when_nothing_new_comes(backend):
    feed = VirtualCameraFeed(VirtualCamera(64, 48, 25, backend="recording"))
    feed.offer(picture(99))
    time.sleep(0.5)
    feed.close()
    assert feed.fresh == 1 and feed.sent >= 8
    assert all(value_of(f) == 99 for f in backend.instances[0].frames)


def test_a_stalled_consumer_never_blocks_the_producer(backend):
    feed = VirtualCameraFeed(VirtualCamera(64, 48, 30, backend="recording"))
    feed.offer(picture(1))
    time.sleep(0.1)
    backend.stall.set()
    time.sleep(0.1)
    producer = threading.Thread(target=lambda: [feed.offer(picture(i)) for i in range(200)])
    producer.start()
    producer.join(timeout=10)
    assert not producer.is_alive() and backend.stall.is_set()  # all 200 offered while stuck
    backend.stall.clear()
    time.sleep(0.3)
    feed.close()
    assert value_of(backend.instances[0].frames[-1]) == 199  # the newest got through after


def test_pictures_of_another_size_are_counted_not_sent(backend):
    feed = VirtualCameraFeed(VirtualCamera(64, 48, 30, backend="recording"))
    feed.offer(picture(5, 60, 80))
    time.sleep(0.1)
    feed.close()
    assert feed.skipped_size == 1 and backend.instances[0].frames == []


def test_on_demand_pauses_until_a_program_opens_the_camera(backend):
    events: list[bool] = []
    cam = VirtualCamera(64, 48, 30, backend="recording")
    feed = VirtualCameraFeed(cam, on_demand=True, on_watched=events.append)
    time.sleep(0.3)
    assert events == [False]
    reader = subprocess.Popen([sys.executable, "-c", "import sys, time; f = open(sys.argv[1]); "
                               "time.sleep(30)", cam.device])
    try:
        deadline = time.monotonic() + 5
        while events[-1] is False and time.monotonic() < deadline:
            time.sleep(0.05)
        assert events == [False, True]
    finally:
        reader.kill()
        reader.wait()
    deadline = time.monotonic() + 5
    while events[-1] is True and time.monotonic() < deadline:
        time.sleep(0.05)
    feed.close()
    assert events == [False, True, False]


def test_processes_holding_counts_other_processes_only(tmp_path):
    path = tmp_path / "dev"
    path.write_bytes(b"")
    with open(path):  # this process does not count
        assert processes_holding(path) == 0
    assert processes_holding(tmp_path / "absent") is None
    assert processes_holding(path, proc=tmp_path / "no-proc") is None


def test_missing_pyvirtualcam_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)
    with pytest.raises(OutputError, match=r"pip install 'livesegment\[virtualcam\]'"):
        VirtualCamera(64, 48, 30)


def test_no_device_gives_the_setup_step(monkeypatch):
    if sys.platform != "linux" or Path("/dev/video0").exists():
        pytest.skip("needs Linux without a video device")
    with pytest.raises(OutputError, match="modprobe v4l2loopback exclusive_caps=1"):
        VirtualCamera(64, 48, 30, backend="v4l2loopback")


def test_unknown_backend_is_named(backend):
    with pytest.raises(OutputError, match="unknown virtual camera backend 'nope'.*recording"):
        VirtualCamera(64, 48, 30, backend="nope")


@pytest.mark.parametrize("system, needle", [("Linux", "modprobe v4l2loopback"),
                                            ("Windows", "OBS"), ("Darwin", "OBS")])
def test_setup_hint_per_system(system, needle):
    assert needle in setup_hint(system)


def test_hint_module_imports_without_pyvirtualcam():
    code = ("import sys; sys.modules['pyvirtualcam'] = None; "
            "import livesegment.io.virtualcam as v; print(v.INSTALL_HINT[:3])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "the" and virtualcam.INSTALL_HINT
