"""Configuration of the motion generator (VASA-1 section 2)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

MOTION_DIM = 34  # pose features (6) + dynamics features (28), see motion/features.py
EMOTION_DIM = 7


@dataclass
class MotionConfig:
    """The diffusion transformer and its windows. Unknown keys are an error (nanoGPT style)."""

    window: int = 50  # W: frames generated per window (2 s at 25 fps)
    prev: int = 10  # K: frames of the previous window's motion and audio given as context
    width: int = 128  # transformer width: see README, "Choosing W, K and the width"
    layers: int = 4  # transformer blocks (the paper: 8)
    heads: int = 8  # attention heads, as the paper
    audio_dim: int = 85  # per-frame audio features (logmel80+prosody)
    motion_dim: int = MOTION_DIM
    emotion_dim: int = EMOTION_DIM
    dropout: float = 0.1  # inside the transformer: little data, so regularise

    @staticmethod
    def from_dict(d: dict) -> MotionConfig:
        known = {f.name for f in fields(MotionConfig)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown MotionConfig keys: {sorted(unknown)}")
        return MotionConfig(**d)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SampleConfig:
    """Sampling: steps and one classifier-free guidance scale per condition (VASA-1 eq. 2)."""

    steps: int = 10  # DDIM steps; the paper's Table 5 compares 10 with 50
    cfg_audio: float = 1.0  # lambda_A: the paper uses 0.5; our Table 5 sweep picks 1.0
    cfg_gaze: float = 1.0  # lambda_g, the paper's default
    cfg_emotion: float = 0.0  # lambda_e
    seed: int = 0

