"""livesegment: real-time semantic segmentation of a webcam or a video file."""

__version__ = "0.1.0"
