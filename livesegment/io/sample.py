"""The sample clip shipped inside the package, so a fresh install has something to run on."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLE_NAME = "people-at-table.mp4"
SAMPLE_CREDIT = ("Sample video by Intel Corporation (intel-iot-devkit/sample-videos), CC BY 4.0; "
                 "cut to 30 s and re-encoded")


def sample_clip() -> Path:
    """Path of the bundled 30 s, 768x432 clip of people walking up to a table.

    The package is installed as plain files (wheel or editable), so the resource is a real path.
    """
    return Path(str(resources.files("livesegment") / "assets" / "sample" / SAMPLE_NAME))
