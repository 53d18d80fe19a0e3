"""`vasa prepare`'s settings, free of the media and tracking stack: the CLI reads its defaults
from here, so commands that need neither (`vasa train refiner` on a machine with only torch,
NumPy and OpenCV) still parse."""

from __future__ import annotations

from dataclasses import dataclass

from vasa.audio.features import DEFAULT_EXTRACTOR
from vasa.data.qc import MIN_SEGMENT_FRAMES
from vasa.timebase import MOTION_FPS, check_motion_fps


@dataclass(frozen=True)
class PrepareConfig:
    """fps: motion frame rate every source is resampled to. max_side: decode size (tracking
    accuracy saturates well below 1080p). audio_features: extractor name (vasa.audio)."""

    fps: float = float(MOTION_FPS)  # the audio features' rate: the only one accepted
    max_side: int = 720
    audio_features: str = DEFAULT_EXTRACTOR
    min_segment_frames: int = MIN_SEGMENT_FRAMES

    def __post_init__(self) -> None:
        check_motion_fps(self.fps, "--fps")

    def fingerprint(self, basis_version: str, extractor_id: str) -> str:
        return f"{self.fps}|{self.max_side}|{extractor_id}|{basis_version}|{self.min_segment_frames}"
