"""Labelled datasets as users have them, read into :class:`Sample` records (reader.py), and
the one being labelled (labelstore.py)."""

from livesegment.io.datasets.dataset import LabelledDataset
from livesegment.io.datasets.labelstore import FrameStatus, LabelClass, LabelStore
from livesegment.io.datasets.preflight import DatasetReport
from livesegment.io.datasets.reader import open_dataset
from livesegment.io.datasets.records import IGNORE, Sample

__all__ = ["IGNORE", "DatasetReport", "FrameStatus", "LabelClass", "LabelStore",
           "LabelledDataset", "Sample", "open_dataset"]
