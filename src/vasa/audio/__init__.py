"""Audio features per motion frame (25 fps) for the data engine and the motion generator.

``get_extractor(name)(audio)`` maps mono float32 audio at 16 kHz ``(N,)`` to
``(ceil(N / 640), dim)`` float32; ``extractor.spec.id`` names the features in datasets and
checkpoints. Loading audio is separate: ``vasa.io.load_audio(path, SAMPLE_RATE)``. The
extractors live in their own modules (features: log-mel, MFCC; prosody; hf: a local
Wav2Vec2/HuBERT); this package owns the registry that names them, so none imports another's
registry.
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

_REGISTRY = {
    "logmel": LogMelExtractor,
    "logmel-stacked": lambda: LogMelExtractor(stack=True),
    "mfcc": MfccExtractor,
    "prosody": ProsodyExtractor,
}


def get_extractor(name: str = DEFAULT_EXTRACTOR) -> AudioFeatureExtractor:
    """Extractor by name: "logmel" (80), "logmel-stacked" (320), "mfcc" (40), "prosody" (5),
    any of them joined with "+" (default "logmel+prosody", 85), or "hf:/local/model-dir" for a
    local Wav2Vec2/HuBERT checkpoint (needs torch and transformers)."""
    if name.startswith("hf:"):
        from vasa.audio.hf import HFExtractor  # torch and transformers only when asked for

        return HFExtractor(name[3:])
    parts = name.split("+")
    unknown = [p for p in parts if p not in _REGISTRY]
    if unknown or not name:
        valid = ", ".join([*_REGISTRY, "logmel+prosody", "hf:/local/model-dir"])
        raise ValueError(f"unknown audio feature extractor {name!r}; valid: {valid} "
                         "(join names with '+')")
    made = [_REGISTRY[p]() for p in parts]
    return made[0] if len(made) == 1 else CombinedExtractor(*made)
