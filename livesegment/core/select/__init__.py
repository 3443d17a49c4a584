"""Click to segment: the promptable selector, plain GrabCut beside it, and the click protocol
that scores both (no files, no Qt: the protocol takes pictures, not folders)."""

from livesegment.core.select.grabcut import PlainGrabCut
from livesegment.core.select.prompts import Click
from livesegment.core.select.protocol import (ClickScores, ClickTrace, iou, next_click,
                                              run_clicks, score_clicks)
from livesegment.core.select.selector import Selector

__all__ = ["Click", "ClickScores", "ClickTrace", "PlainGrabCut", "Selector", "iou",
           "next_click", "run_clicks", "score_clicks"]
