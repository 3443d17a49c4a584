"""Menus built from a table of (menu, text, keys, slot): the windows keep their menus and
shortcuts as one readable table each, and this one loop turns a table into actions."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QMenu, QWidget

Keys = str | Sequence[str] | None
Entry = tuple[QMenu, str, Keys, Callable[[], object]]


def add_menu_actions(window: QWidget, entries: Sequence[Entry],
                     context: Qt.ShortcutContext | None = None) -> dict[str, QAction]:
    """Each entry as an action in its menu and on ``window`` (so its keys work with the menu
    closed), with its shortcuts (one, several or none) in ``context`` when given. Returns
    the actions by their text without '&' and a trailing '…', so tests and other windows
    trigger them as a user does."""
    named: dict[str, QAction] = {}
    for menu, text, keys, slot in entries:
        action = QAction(text, window)
        keys = () if keys is None else (keys,) if isinstance(keys, str) else keys
        action.setShortcuts([QKeySequence(k) for k in keys])
        if context is not None:
            action.setShortcutContext(context)
        action.triggered.connect(slot)
        menu.addAction(action)
        window.addAction(action)
        named[text.replace("&", "").rstrip("…")] = action
    return named
