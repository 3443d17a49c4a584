"""What the labelling window asks the user, each a plain function of its parent widget: the
window holds them as attributes, so a test answers in their place without a dialog."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from livesegment.io.inputs import VIDEO_INPUT_SUFFIXES

# the suffixes the video reader takes, so the dialog offers what a label folder can be made of
VIDEOS = f"Videos ({' '.join('*' + s for s in sorted(VIDEO_INPUT_SUFFIXES))})"
TRAIN_MINUTES = 10  # what "Train on these labels" plans for unless the user says otherwise


def ask_model(parent: QWidget, current: str | None) -> str | None:
    """A model name from the catalogue, or a model file made by ``train``."""
    from livesegment.core.models.catalog import MODEL_NAMES

    choices = list(MODEL_NAMES) + ["A model file (.pt)…"]
    start = choices.index(current) if current in choices else 0
    name, ok = QInputDialog.getItem(parent, "Segment with model", "Model:", choices, start,
                                    False)
    if not ok:
        return None
    if name == choices[-1]:
        path, _ = QFileDialog.getOpenFileName(parent, "Model file", "", "Models (*.pt)")
        return path or None
    return name


def ask_pictures(parent: QWidget) -> str | None:
    folder = QFileDialog.getExistingDirectory(parent, "Folder of pictures (or a label folder)")
    return folder or None


def ask_video(parent: QWidget) -> str | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Video to label", "", VIDEOS)
    return path or None


def ask_new_folder(parent: QWidget, suggestion: str) -> str | None:
    """Where the new label folder goes (the store refuses one holding other files)."""
    path, _ = QFileDialog.getSaveFileName(parent, "Label folder to create", suggestion, "")
    return path or None


def ask_training(parent: QWidget, suggestion: Path) -> tuple[Path, float, bool] | None:
    """The model file to write, the minutes to plan for, and whether an existing file may be
    replaced (asked only when there is one)."""
    path, _ = QFileDialog.getSaveFileName(parent, "Model to train", str(suggestion),
                                          "Models (*.pt)")
    if not path:
        return None
    minutes, ok = QInputDialog.getDouble(parent, "Train on these labels", "Minutes to train:",
                                         TRAIN_MINUTES, 0.5, 24 * 60, 1)
    if not ok:
        return None
    replace = Path(path).exists() and QMessageBox.question(
        parent, "Replace?", f"{path} exists. Replace it?") == QMessageBox.StandardButton.Yes
    if Path(path).exists() and not replace:
        return None
    return Path(path), minutes, replace
