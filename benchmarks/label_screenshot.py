"""README's picture of labelling mode, taken from a real X display (run it under Xvfb).

    xvfb-run -s "-screen 0 1400x860x24" python benchmarks/label_screenshot.py [-o assets/label-screenshot.jpg]

On the shared head-and-shoulders GIF (Intel, CC BY 4.0): a label folder of its frames, a
class list of two, one person clicked and accepted on frame 10 and carried through the
frames (the timeline marks them), then the other person with one include click on frame 24, the object
highlighted and not yet accepted. The
window is then photographed by ImageMagick's ``import`` from the X server, as a user would
see it, and scaled to README's width.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from PyQt6.QtCore import QEventLoop, QTimer
from PyQt6.QtWidgets import QApplication

from livesegment.gui.label.window import LabelWindow
from livesegment.io.datasets.labelstore import LabelClass, LabelStore

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
GIF = SHARED / "media" / "head-pose-face-detection-female-and-male.gif"
WIDTH = 1100  # README's pictures


def wait(window: LabelWindow, seconds: float = 0.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end or not window.sitting.idle() or window.carrier.running:
        loop = QEventLoop()
        QTimer.singleShot(20, loop.quit)
        loop.exec()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("assets/label-screenshot.jpg"))
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    folder = Path(tempfile.mkdtemp(prefix="label-shot-")) / "call-labels"
    store = LabelStore.create(folder, GIF, [
        LabelClass("background", (0, 0, 0)), LabelClass("person", (230, 25, 75)),
        LabelClass("shirt", (0, 130, 200))])
    window = LabelWindow(store)
    window.resize(1360, 820)
    window.move(0, 0)
    window.show()
    wait(window, 1.0)
    window.go(10)
    wait(window, 0.5)
    window.click(350, 215, True)  # the man on the right
    wait(window)
    window.accept()
    wait(window, 0.5)
    window.go(24)
    wait(window, 0.5)
    window.click(120, 215, True)  # the woman on the left: one click, not yet accepted
    wait(window, 1.0)
    raw = args.output.with_suffix(".raw.png")
    subprocess.run(["import", "-window", "root", "-crop", "1360x840+0+0", str(raw)],
                   check=True)
    subprocess.run(["convert", str(raw), "-resize", f"{WIDTH}x", "-quality", "82",
                    str(args.output)], check=True)
    raw.unlink()
    print(f"wrote {args.output}; label folder {folder}")
    window.close()
    app.quit()


if __name__ == "__main__":
    main()
