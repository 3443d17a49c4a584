"""Starting the Qt application."""

from __future__ import annotations

import sys

from PyQt6.QtWidgets import QApplication

from livesegment.gui.window import MainWindow


def run_gui(source: str | None = None, model: str | None = None) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("livesegment")
    app.setOrganizationName("livesegment")
    window = MainWindow(source, model)
    window.show()
    code = app.exec()
    return int(code)
