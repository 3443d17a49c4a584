"""Signals at any moment: SIGTERM while the command line is still starting (parsing, importing
torch, loading the model), before a run installs its own handlers, ends with the documented
line and exit code, not Python's silent default death."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from livesegment.cli.signals import Interrupted, interrupt_on_sigterm
from tests.conftest import make_clip

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def catches(pid: int, sig: int) -> bool:
    """Whether process ``pid`` has a handler installed for ``sig`` (Linux /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = int(next(ln for ln in status.splitlines() if ln.startswith("SigCgt:")).split()[1], 16)
    return bool(mask & (1 << (sig - 1)))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("command", [["process", "{clip}", "-o", "{out}"],
                                     ["live", "--source", "{clip}", "-o", "{out}"]])
def test_sigterm_while_starting_ends_with_the_line_and_143(tmp_path, command):
    clip, out = tmp_path / "clip.mp4", tmp_path / "out.mp4"
    make_clip(clip, frames=6)
    args = [a.format(clip=clip, out=out) for a in command]
    proc = subprocess.Popen([sys.executable, "-m", "livesegment", *args, "--size", "64",
                             "--device", "cpu"], stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 60
    while not catches(proc.pid, signal.SIGTERM) and time.monotonic() < deadline:
        time.sleep(0.002)  # from the moment the command line can catch it: the first instant
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    # The start-up line (a run's own handlers say "... before the first frame"): it was caught
    # while loading, before the run could have caught it.
    assert err.strip().splitlines() == ["livesegment: interrupted"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # nothing written


def test_the_early_handler_gives_the_previous_one_back():
    before = signal.getsignal(signal.SIGTERM)
    with interrupt_on_sigterm():
        with pytest.raises(Interrupted) as raised:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs at the next bytecode
        assert raised.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before
