"""Media I/O: probing and decoding video (files or frame folders), writing mp4, loading and
streaming audio."""

from __future__ import annotations

from vasa.io.audio import SAMPLE_RATE, audio_duration, has_audio, iter_audio, load_audio
from vasa.io.video import (
    MediaError,
    VideoInfo,
    VideoWriter,
    atomic_output,
    check_video_output,
    probe_video,
    read_frames,
)

__all__ = [
    "SAMPLE_RATE",
    "MediaError",
    "VideoInfo",
    "VideoWriter",
    "atomic_output",
    "audio_duration",
    "check_video_output",
    "has_audio",
    "iter_audio",
    "load_audio",
    "probe_video",
    "read_frames",
]
