"""Labelled datasets as users have them, read into :class:`Sample` records (reader.py)."""

from livesegment.io.datasets.dataset import LabelledDataset
from livesegment.io.datasets.preflight import DatasetReport
from livesegment.io.datasets.reader import open_dataset
from livesegment.io.datasets.records import IGNORE, Sample

__all__ = ["IGNORE", "DatasetReport", "LabelledDataset", "Sample", "open_dataset"]
