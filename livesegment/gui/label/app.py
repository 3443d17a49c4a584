"""Starting the labelling window on its own (``livesegment label``)."""

from __future__ import annotations

from livesegment.gui.app import application
from livesegment.gui.label.window import LabelWindow
from livesegment.io.datasets.labelstore import LabelStore


def run_label(store: LabelStore, model: str | None = None) -> int:
    """The labelling window on ``store`` until it closes; a model trained from it and chosen
    as the live model opens the live window with it."""
    app = application()
    window = LabelWindow(store, model=model)
    live: list = []

    def go_live(path: str) -> None:
        from livesegment.gui.window import MainWindow

        live.append(MainWindow(model=path))
        live[-1].show()
    window.model_ready.connect(go_live)
    window.show()
    return int(app.exec())
