"""Audio features per motion frame (25 fps) for the data engine and the motion generator.

``get_extractor(name)(audio)`` maps mono float32 audio at 16 kHz ``(N,)`` to
``(ceil(N / 640), dim)`` float32; ``extractor.spec.id`` names the features in datasets and
checkpoints. Loading audio is separate: ``vasa.io.load_audio(path, SAMPLE_RATE)``.
"""

from __future__ import annotations

from vasa.audio.features import (
    DEFAULT_EXTRACTOR,
    HOP,
    HOPS_PER_FRAME,
    MOTION_FPS,
    N_FFT,
    N_MELS,
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    AudioFeatureExtractor,
    CombinedExtractor,
    ExtractorSpec,
    LogMelExtractor,
    MfccExtractor,
    get_extractor,
    mel_filterbank,
    num_frames,
)
from vasa.audio.prosody import PROSODY_FIELDS, ProsodyExtractor

__all__ = [
    "DEFAULT_EXTRACTOR",
    "HOP",
    "HOPS_PER_FRAME",
    "MOTION_FPS",
    "N_FFT",
    "N_MELS",
    "PROSODY_FIELDS",
    "SAMPLES_PER_FRAME",
    "SAMPLE_RATE",
    "AudioFeatureExtractor",
    "CombinedExtractor",
    "ExtractorSpec",
    "LogMelExtractor",
    "MfccExtractor",
    "ProsodyExtractor",
    "get_extractor",
    "mel_filterbank",
    "num_frames",
]
