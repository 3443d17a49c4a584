"""Starting the Qt application."""

from __future__ import annotations

import sys

from importlib import resources

from PyQt6.QtGui import QIcon
from PyQt6.QtWidgets import QApplication

from livesegment.gui.window import MainWindow


def run_gui(source: str | None = None, model: str | None = None) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("livesegment")
    app.setOrganizationName("livesegment")
    app.setDesktopFileName("livesegment")
    app.setWindowIcon(QIcon(str(resources.files("livesegment") / "assets" / "livesegment.png")))
    window = MainWindow(source, model)
    window.show()
    code = app.exec()
    return int(code)
