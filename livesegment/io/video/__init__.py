"""Video files through PyAV (FFmpeg): every frame with its true time in, H.264 with audio out.

``source`` reads a file (or stream URL) frame by frame, upright and timed; ``audio`` decides
and carries each sound track across (copied when the output container takes its codec,
re-encoded otherwise); ``sink`` encodes the pictures and muxes that sound beside them. Callers
import from here; the modules split the work, not the vocabulary.
"""

from livesegment.io.video.audio import AUDIO_RULES, AudioRule, audio_plan
from livesegment.io.video.sink import ALPHA_CODECS, OUTPUT_SUFFIXES, VideoFileSink
from livesegment.io.video.source import VIDEO_SUFFIXES, VideoFileSource

__all__ = ["ALPHA_CODECS", "AUDIO_RULES", "OUTPUT_SUFFIXES", "VIDEO_SUFFIXES", "AudioRule",
           "VideoFileSink", "VideoFileSource", "audio_plan"]
