"""livesegment: real-time semantic segmentation of a webcam or a video file.

The Python API (``load_model``, ``segment``, ``segment_frames``, ``VideoSegmenter``,
``overlay``, ``read_frames``, ``process_file``, ``sample_clip``, ``models``, ``read_dataset``,
``evaluate``, ``train``, and click to segment: ``Selector``, ``PlainGrabCut``,
``evaluate_clicks``) lives in :mod:`livesegment.api`; it is imported on first use, so
``import livesegment`` (and ``livesegment --help``) stays free of torch.
"""

__version__ = "0.1.0"

_API = ("evaluate", "evaluate_clicks", "load_model", "models", "overlay", "PlainGrabCut",
        "process_file", "read_dataset", "read_frames", "sample_clip", "segment",
        "segment_frames", "Segmenter", "Selector", "train", "VideoSegmenter")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from livesegment import api

        return getattr(api, name)
    raise AttributeError(f"module 'livesegment' has no attribute {name!r}")
