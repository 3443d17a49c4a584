"""The allocator setting: freed frame-sized blocks are reused instead of faulted in again."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from livesegment.cli import allocator

glibc_only = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc")

# A frame's worth of buffers (frame, feature maps, labels: 14 MiB), written, held together and
# freed together, 50 times, as the pipeline does; prints the minor page faults that cost.
CHURN = """
import json, resource, sys
import numpy as np
from livesegment.cli.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else False
def frames(count):
    for _ in range(count):
        held = [np.ones(mib << 20, np.uint8) for mib in (3, 6, 4, 1)]
        del held
frames(5)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
frames(50)
after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
print(json.dumps({"applied": applied, "faults": after - before}))
"""
PAGES_PER_FRAME = 14 * 256  # 4 KiB pages


def _churn(mode: str, env: dict[str, str] | None = None) -> dict:
    run = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True,
                         check=True, env={**os.environ, **(env or {})})
    return json.loads(run.stdout)


@glibc_only
def test_freed_frames_are_reused_instead_of_faulted_in_again() -> None:
    default, kept = _churn("default"), _churn("keep")
    assert kept["applied"] is True
    # By default glibc gives the freed heap top back to the kernel and faults it in again.
    assert default["faults"] >= 50 * PAGES_PER_FRAME // 4
    assert kept["faults"] < PAGES_PER_FRAME


@glibc_only
def test_the_users_own_malloc_settings_win() -> None:
    result = _churn("keep", {"MALLOC_MMAP_THRESHOLD_": "65536"})
    assert result["applied"] is False
    assert result["faults"] >= 50 * PAGES_PER_FRAME // 4


def test_a_no_op_off_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    assert allocator.keep_freed_memory() is False
