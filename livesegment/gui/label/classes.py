"""The class list the user edits: add, rename, colour, remove; the selected class is the one
Enter accepts into. Class 0 is the background and is not listed.

The editor does not save: it says ``edited(classes)`` and the window hands that to the store,
which may refuse (removing a class that still has pixels); the window then shows the store's
list again. Questions to the user go through ``ask_name``/``ask_colour``, plain callables a
test replaces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (QColorDialog, QHBoxLayout, QInputDialog, QListWidget,
                             QListWidgetItem, QPushButton, QVBoxLayout, QWidget)

from livesegment.core.compose.palette import free_colour
from livesegment.gui.widgets import swatch

@dataclass(frozen=True)
class ClassEntry:
    """What the editor lists: a name and an RGB colour (the store's LabelClass fields)."""

    name: str
    colour: tuple[int, int, int]


def _ask_name(parent: QWidget, title: str, current: str) -> str | None:
    text, ok = QInputDialog.getText(parent, title, "Class name:", text=current)
    return text if ok else None


def _ask_colour(parent: QWidget, current: tuple[int, int, int]) -> tuple[int, int, int] | None:
    colour = QColorDialog.getColor(QColor(*current), parent, "Class colour")
    return (colour.red(), colour.green(), colour.blue()) if colour.isValid() else None


class ClassEditor(QWidget):
    """The dataset's classes with swatches and Add / Rename / Colour / Remove buttons."""

    edited = pyqtSignal(object)  # tuple[ClassEntry, ...], background first: added or changed
    selected = pyqtSignal(int)  # the class id Enter accepts into
    removed = pyqtSignal(int)  # the class id to remove
    error = pyqtSignal(str)

    def __init__(self) -> None:
        super().__init__()
        self.ask_name: Callable[[QWidget, str, str], str | None] = _ask_name
        self.ask_colour: Callable[[QWidget, tuple[int, int, int]],
                                  tuple[int, int, int] | None] = _ask_colour
        self._classes: tuple[ClassEntry, ...] = ()
        self.list = QListWidget()
        self.list.currentRowChanged.connect(lambda _row: self.selected.emit(self.class_id()))
        self.list.itemDoubleClicked.connect(lambda _item: self.rename())
        buttons = QHBoxLayout()
        for text, slot in (("Add", self.add), ("Rename", self.rename), ("Colour", self.recolour),
                           ("Remove", self.remove)):
            button = QPushButton(text)
            button.clicked.connect(slot)
            button.setObjectName(text.lower())
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addLayout(buttons)

    def set_classes(self, classes: Sequence[ClassEntry], keep: int | None = None) -> None:
        """Shows ``classes`` (index = id, 0 the background); selects ``keep`` if it is one."""
        self._classes = tuple(ClassEntry(c.name, tuple(c.colour)) for c in classes)
        current = self.class_id() if keep is None else keep
        self.list.blockSignals(True)
        self.list.clear()
        for i, c in enumerate(self._classes[1:], start=1):
            item = QListWidgetItem(swatch(c.colour), f"{i}  {c.name}")
            item.setData(Qt.ItemDataRole.UserRole, i)
            self.list.addItem(item)
        self.list.blockSignals(False)
        if self.list.count():
            self.list.setCurrentRow(min(max(current, 1), self.list.count()) - 1)

    def classes(self) -> tuple[ClassEntry, ...]:
        return self._classes

    def class_id(self) -> int:
        """The selected class's id (0 when there is none to accept into)."""
        item = self.list.currentItem()
        return int(item.data(Qt.ItemDataRole.UserRole)) if item is not None else 0

    def select(self, class_id: int) -> None:
        if 1 <= class_id <= self.list.count():
            self.list.setCurrentRow(class_id - 1)

    def add(self) -> None:
        name = self._new_name("Add class", "")
        if name is not None:
            self.edited.emit(self._classes + (ClassEntry(name, free_colour(
                [c.colour for c in self._classes])),))

    def rename(self) -> None:
        k = self.class_id()
        if k == 0:
            return
        name = self._new_name("Rename class", self._classes[k].name, k)
        if name is not None and name != self._classes[k].name:
            self._emit_with(k, ClassEntry(name, self._classes[k].colour))

    def recolour(self) -> None:
        k = self.class_id()
        if k == 0:
            return
        colour = self.ask_colour(self, self._classes[k].colour)
        if colour is not None:
            self._emit_with(k, ClassEntry(self._classes[k].name, tuple(colour)))

    def remove(self) -> None:
        k = self.class_id()
        if k != 0:
            self.removed.emit(k)

    def _emit_with(self, k: int, entry: ClassEntry) -> None:
        self.edited.emit(self._classes[:k] + (entry,) + self._classes[k + 1:])

    def _new_name(self, title: str, current: str, own: int = -1) -> str | None:
        """A name from the user, trimmed; empty or another class's name is refused."""
        name = self.ask_name(self, title, current)
        if name is None or not name.strip():
            return None
        name = name.strip()
        if any(c.name.lower() == name.lower() for i, c in enumerate(self._classes) if i != own):
            self.error.emit(f"there is a class called {name} already")
            return None
        return name
