"""The rooms of the package keep to DESIGN's arrows, stay small, and README's map is true."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "livesegment"
SOURCES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 520  # "about 500": a file past it holds more than one thing

# room -> what it must never import (a dotted prefix; PyQt6 is Qt)
FORBIDDEN = {
    "livesegment.core": ("livesegment.io", "livesegment.pipeline", "livesegment.gui",
                         "livesegment.cli", "PyQt6"),
    "livesegment.io": ("livesegment.pipeline", "livesegment.gui", "livesegment.cli", "PyQt6"),
    "livesegment.pipeline": ("livesegment.gui", "livesegment.cli", "PyQt6"),
    "livesegment.gui": ("livesegment.cli",),
    "livesegment.api": ("livesegment.gui", "livesegment.cli", "PyQt6"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def breaks(module: str, name: str) -> bool:
    for room, never in FORBIDDEN.items():
        if module == room or module.startswith(room + "."):
            return any(name == n or name.startswith(n + ".") for n in never)
    if module in ("livesegment", "livesegment.errors"):
        return name.startswith(("livesegment.", "PyQt6"))
    return False


def test_the_layers_import_only_downwards():
    wrong = [f"{module_name(p)} imports {name}" for p in SOURCES for name in imported(p)
             if breaks(module_name(p), name)]
    assert wrong == []


def test_qt_lives_only_in_the_gui():
    outside = [module_name(p) for p in SOURCES if any(n.startswith("PyQt6") for n in imported(p))
               and not module_name(p).startswith("livesegment.gui")]
    assert outside == []


@pytest.mark.parametrize("module, name, expected", [
    ("livesegment.core.segmenter", "livesegment.io.images", True),
    ("livesegment.core.models.zoo", "livesegment.core.compose.palette", False),
    ("livesegment.pipeline.live", "PyQt6.QtCore", True),
    ("livesegment.gui.window", "livesegment.cli", True),
    ("livesegment.gui.window", "livesegment.pipeline.live", False),
    ("livesegment.io.video", "livesegment.iox", False),
])
def test_the_rule_itself(module, name, expected):
    assert breaks(module, name) is expected


def test_no_source_file_holds_more_than_one_thing():
    long = {str(p.relative_to(ROOT)): n for p in SOURCES
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def layout_section() -> str:
    readme = (ROOT / "README.md").read_text()
    return re.search(r"^## Layout\n(.*?)^## ", readme, re.S | re.M).group(1)


def test_readme_layout_names_only_rooms_that_exist():
    named = re.findall(r"`(livesegment/[\w/.]*)`", layout_section())
    assert named, "the Layout section names no rooms"
    missing = [n for n in named if not (ROOT / n.rstrip("/")).exists()]
    assert missing == []


def test_readme_layout_names_every_room():
    named = {n.rstrip("/") for n in re.findall(r"`(livesegment/[\w/.]*)`", layout_section())}
    rooms = {str(p.parent.relative_to(ROOT)) for p in PACKAGE.rglob("__init__.py")
             if p.parent != PACKAGE}
    rooms |= {f"livesegment/{p.name}" for p in PACKAGE.glob("*.py")
              if p.name not in ("__init__.py", "__main__.py")}
    assert sorted(rooms - named) == []
