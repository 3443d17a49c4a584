"""``livesegment gui`` (and the ``livesegment-gui`` launcher): the live window."""

from __future__ import annotations

import argparse


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    g = sub.add_parser("gui", parents=[common], help="open the live window")
    g.add_argument("--source", help="camera index, video file or stream URL")
    g.add_argument("--model", help="model to start with")


def run(args: argparse.Namespace) -> int:
    from livesegment.gui.app import run_gui  # Qt: only when the window is asked for

    return run_gui(args.source, args.model)
