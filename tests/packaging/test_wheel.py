"""The wheel carries the bundled weights and sample clip, their licences, the icon and both
launchers."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from livesegment import __version__

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "-w", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return next(out.glob("livesegment-*.whl"))


def test_wheel_contents(wheel):
    assert wheel.name.startswith(f"livesegment-{__version__}-")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("livesegment/weights/espnetv2_s_2.0_pascal_384x384.pth",
                   "livesegment/weights/espnetv2_s_2.0_city_1024x512.pth",
                   "livesegment/weights/LICENSE-EdgeNets",
                   "livesegment/weights/selfie_segmentation.tflite",
                   "livesegment/weights/selfie_segmentation_landscape.tflite",
                   "livesegment/weights/LICENSE-mediapipe",
                   "livesegment/weights/sinet_portrait.pth",
                   "livesegment/weights/LICENSE-ext_portrait_segmentation",
                   "livesegment/assets/livesegment.png",
                   "livesegment/assets/sample/people-at-table.mp4",
                   "livesegment/assets/sample/LICENSE", "livesegment/assets/sample/NOTICE",
                   "livesegment/core/models/espnetv2.py", "livesegment/gui/window.py"):
        assert needed in names
    assert not [n for n in names if n.startswith("tests/")]
    licence = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE")
                   or n.endswith(".dist-info/LICENSE"))
    assert "MIT License" in zipfile.ZipFile(wheel).read(licence).decode()
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "livesegment = livesegment.cli:main" in entry_points
    assert "[gui_scripts]" in entry_points and "livesegment-gui = livesegment.cli:gui_main" \
        in entry_points


def test_desktop_entry_names_the_gui_launcher_and_icon():
    text = (ROOT / "packaging" / "livesegment.desktop").read_text()
    assert "Exec=livesegment-gui %f" in text and "Icon=livesegment" in text
    for size in (16, 32, 48, 64, 128, 256):
        assert (ROOT / "assets" / f"livesegment-{size}.png").is_file()
    assert (ROOT / "assets" / "livesegment.svg").read_text().startswith("<svg")
