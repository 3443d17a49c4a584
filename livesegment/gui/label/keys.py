"""The labelling window's menus and keys, in one table: what README's key list and the
command's help describe."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PyQt6.QtGui import QAction, QKeySequence

from livesegment.gui.label.canvas import Tool
from livesegment.gui.menus import add_menu_actions

if TYPE_CHECKING:
    from livesegment.gui.label.window import LabelWindow

BRUSH_STEP = 1.25  # [ and ] grow and shrink the brush by this factor


def add_actions(w: LabelWindow) -> dict[str, QAction]:
    """The window's menus with their shortcuts; the actions by their names (menus.py)."""
    file_menu, edit_menu, tools_menu, go_menu = (w.menuBar().addMenu(t) for t in (
        "&File", "&Edit", "&Tools", "&Go"))
    entries = [
        (file_menu, "Open &pictures…", "Ctrl+O", w.choose_pictures),
        (file_menu, "Open &video…", "Ctrl+Shift+O", w.choose_video),
        (file_menu, "&Segment with model…", "Ctrl+M", w.choose_segment),
        (file_menu, "&Train on these labels…", "Ctrl+T", w.choose_training),
        (file_menu, "&Close", "Ctrl+W", w.close),
        (edit_menu, "&Undo", "Ctrl+Z", w.undo),
        (edit_menu, "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), w.redo),
        (edit_menu, "&Accept object", ("Return", "Enter"), w.accept),
        (edit_menu, "&Drop object", "Esc", w.drop),
        (tools_menu, "&Clicks and boxes", "C", lambda: w.set_tool(Tool.CLICK)),
        (tools_menu, "&Brush", "B", lambda: w.toggle_tool(Tool.BRUSH)),
        (tools_menu, "&Eraser", "E", lambda: w.toggle_tool(Tool.ERASER)),
        (tools_menu, "Larger brush", "]", lambda: w.scale_brush(BRUSH_STEP)),
        (tools_menu, "Smaller brush", "[", lambda: w.scale_brush(1 / BRUSH_STEP)),
        (go_menu, "&Next picture", ("Right", "PgDown", "D"), lambda: w.go(w.index + 1)),
        (go_menu, "&Previous picture", ("Left", "PgUp", "A"), lambda: w.go(w.index - 1)),
        (go_menu, "&First", "Home", lambda: w.go(0)),
        (go_menu, "&Last", "End", lambda: w.go(len(w.keys) - 1)),
        (go_menu, "Next to &look at", "N", w.next_to_look_at),
    ]
    named = add_menu_actions(w, entries)
    for n in range(1, 10):  # number keys choose the class
        action = QAction(f"Class {n}", w)
        action.setShortcut(QKeySequence(str(n)))
        action.triggered.connect(lambda _=False, n=n: w.class_editor.select(n))
        w.addAction(action)
    return named
