"""Command line: ``livesegment process|live|models|bench|gui`` (being split into a module per
command; for now everything lives in :mod:`livesegment.cli.process`)."""

from livesegment.cli.process import COMMANDS, build_parser, gui_main, main  # noqa: F401
