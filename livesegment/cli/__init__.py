"""Command line: ``livesegment process|live|models|bench|gui`` (being split into a module per
command; for now everything lives in :mod:`livesegment.cli.process`)."""

from livesegment.cli.process import (  # noqa: F401 - the entry points and what tests use
    COMMANDS, _seconds, build_parser, gui_main, main, model_details, parse_classes,
)
