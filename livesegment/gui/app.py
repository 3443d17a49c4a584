"""Starting the Qt application."""

from __future__ import annotations

import sys
from importlib import resources

from PyQt6.QtGui import QIcon
from PyQt6.QtWidgets import QApplication

from livesegment.gui import check_display
from livesegment.gui.window import MainWindow


def application() -> QApplication:
    """The one QApplication, named and with its icon (settings and the desktop find it by
    them), for the live and the labelling window alike; no display is a one-line error."""
    check_display()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("livesegment")
    app.setOrganizationName("livesegment")
    app.setDesktopFileName("livesegment")
    app.setWindowIcon(QIcon(str(resources.files("livesegment") / "assets" / "livesegment.png")))
    return app


def run_gui(source: str | None = None, model: str | None = None) -> int:
    app = application()
    window = MainWindow(source, model)
    window.show()
    code = app.exec()
    return int(code)
