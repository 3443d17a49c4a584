"""The live pipeline with fake sources and models: freshness, drops, faults, long runs."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
import torch

from livesegment.core.segmenter import Segmenter
from livesegment.io.live_source import SyntheticSource
from livesegment.pipeline.bench import rss_mb
from livesegment.pipeline.live import LivePipeline
from livesegment.pipeline.slots import LatestFrameSlot
from tests.conftest import fake_segmenter


def test_slot_keeps_the_newest_and_counts_drops():
    slot: LatestFrameSlot[int] = LatestFrameSlot()
    for i in range(5):
        slot.put(i)
    assert slot.take(0) == 4 and slot.dropped == 4 and slot.take(0) is None
    slot.put(9)
    assert slot.peek() == 9 and slot.take(0) == 9 and slot.delivered == 2


def test_slot_close_wakes_a_waiting_consumer():
    slot: LatestFrameSlot[int] = LatestFrameSlot()
    got = []
    t = threading.Thread(target=lambda: got.append(slot.take(timeout=10)))
    t.start()
    time.sleep(0.05)
    start = time.monotonic()
    slot.close()
    t.join(2)
    assert got == [None] and time.monotonic() - start < 1


class OomOnce(Segmenter):
    """A segmenter that runs out of (GPU) memory at its size, as CUDA would."""

    def __init__(self) -> None:
        base = fake_segmenter(size=256)
        super().__init__(base.spec, base.model, base.device, 256)

    def infer(self, frame):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_out_of_memory_shrinks_the_size_and_says_so():
    notices = []
    seg = OomOnce()
    pipe = LivePipeline(seg, fake_segmenter().default_style(), on_notice=notices.append)
    pipe.set_source(SyntheticSource(160, 120, fps=30))
    deadline = time.monotonic() + 5
    while pipe.latest() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    pipe.stop()
    assert notices and notices[0] == "out of memory at size 256; now 192"
    assert isinstance(pipe.segmenter, Segmenter) and pipe.segmenter.size == 192
    assert pipe.latest() is not None  # and it went on showing frames


def test_end_of_file_is_reported_once_and_capture_ends():
    ended = []
    seg = fake_segmenter()
    pipe = LivePipeline(seg, seg.default_style(), on_end=lambda: ended.append(1))
    pipe.set_source(SyntheticSource(64, 48, fps=200, frames=20))
    time.sleep(0.5)
    assert ended == [1]
    assert [t.name for t in pipe.threads()] == ["livesegment-infer-0", "livesegment-infer-1",
                                                "livesegment-compose"]
    pipe.stop()
    assert pipe.threads() == []


SOAK_SECONDS = float(os.environ.get("LIVESEGMENT_SOAK_SECONDS", "45"))


def test_soak_memory_and_threads_stay_flat():
    """Thousands of frames through the live pipeline with a fast fake model: RSS and thread
    count stay flat, and what is shown is always one of the newest frames."""
    seg = fake_segmenter(size=64)
    pipe = LivePipeline(seg, seg.default_style())
    source = SyntheticSource(320, 240, fps=400)
    pipe.set_source(source)
    time.sleep(2)  # warm-up: allocator pools, thread start
    rss_start, threads_start = rss_mb(), threading.active_count()
    worst_lag, worst_age = 0, 0.0
    end = time.monotonic() + SOAK_SECONDS
    while time.monotonic() < end:
        shown = pipe.take_latest()
        if shown is not None:
            worst_lag = max(worst_lag, source._index - 1 - shown.frame.index)
            worst_age = max(worst_age, time.monotonic() - shown.frame.captured_at)
        time.sleep(1 / 60)
    rss_end, threads_end = rss_mb(), threading.active_count()
    produced = source._index
    pipe.stop()
    print(f"soak: {produced} frames in {SOAK_SECONDS:.0f} s, RSS {rss_start:.0f} -> "
          f"{rss_end:.0f} MB, threads {threads_start} -> {threads_end}, worst lag {worst_lag} "
          f"frames ({worst_age * 1e3:.0f} ms)")
    assert produced > 2000
    assert threads_end == threads_start
    assert rss_end - rss_start < 40
    # A backlog would grow over the run; the newest-frame slots keep what is shown a few
    # frames (milliseconds at 400 fps) behind the camera, whatever the machine's hiccups.
    assert worst_age < 0.25 and worst_lag < 100


def test_a_new_frame_size_gets_its_graph_before_its_first_frame_is_shown():
    """Built in the background, the trace stalled the overlapping eager frames for seconds;
    live mode builds first, says so, and shows only frames from the frozen graph."""
    from livesegment.core.models.frozen import FrozenPerShape
    from tests.conftest import RedIsPerson

    seg = fake_segmenter()
    seg = Segmenter(seg.spec, FrozenPerShape(RedIsPerson().eval(), hot_after=10**6),
                    seg.device, seg.size)
    shape = (1, 3, *seg.input_size(48, 64))
    notices: list[str] = []
    pipe = LivePipeline(seg, seg.default_style(), on_notice=notices.append)
    pipe.set_source(SyntheticSource(64, 48, fps=100))
    deadline = time.monotonic() + 30
    while pipe.latest() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    first = pipe.latest()
    pipe.stop()
    assert first is not None
    assert seg.model.graph_for(shape) is not None
    assert notices == ["preparing espnetv2-voc for 64x48 frames"]
    assert (first.labels == 15).any()  # the red square, segmented by the graph
