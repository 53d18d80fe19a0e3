"""The time base every part of vasa shares: audio sample rate and motion frame rate.

Owned here, derived from each other as whisper's `audio.py` derives its frame counts: the
audio features, the motion generator, the dataset, the renderer's videos and the server all
read these names, so a frame index means the same 40 ms of audio everywhere.
"""

from __future__ import annotations

SAMPLE_RATE = 16000  # Hz: the audio every extractor and model reads (mono float32)
MOTION_FPS = 25  # motion frames per second: one generator step, one rendered frame
SAMPLES_PER_FRAME = SAMPLE_RATE // MOTION_FPS  # 640: the audio of one motion frame
FRAME_SECONDS = 1.0 / MOTION_FPS  # 0.04 s


def frame_time(index: int) -> float:
    """Presentation time in seconds of motion frame `index`."""
    return index / float(MOTION_FPS)


def check_motion_fps(fps: float, what: str) -> None:
    """Refuse a motion frame rate other than MOTION_FPS by name: the audio features are fixed
    to MOTION_FPS frames per second, so motion at another rate would sit beside them silently
    misaligned."""
    if abs(float(fps) - MOTION_FPS) > 1e-6:
        raise ValueError(f"{what}: motion at {fps:g} frames/s, but the audio features are fixed "
                         f"to {MOTION_FPS} frames/s (vasa.timebase.MOTION_FPS); re-prepare the "
                         f"data at {MOTION_FPS}")
