"""Click to segment: the promptable selector, plain GrabCut beside it, the click protocol
that scores both, and an accepted mask carried through a video (no files, no Qt: the
protocol and the propagation take pictures, not folders)."""

from livesegment.core.select.grabcut import PlainGrabCut
from livesegment.core.select.prompts import Click
from livesegment.core.select.tracking import Propagation, propagate, track
from livesegment.core.select.protocol import (ClickScores, ClickTrace, iou, next_click,
                                              run_clicks, score_clicks)
from livesegment.core.select.selector import Selector

__all__ = ["Click", "ClickScores", "ClickTrace", "PlainGrabCut", "Propagation", "Selector",
           "iou", "next_click", "propagate", "run_clicks", "score_clicks", "track"]
