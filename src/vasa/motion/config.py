"""Configuration of the motion generator (VASA-1 section 2) and of its training: plain
dataclasses with no torch import, so the command line reads its defaults from them cheaply."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from vasa.data.emotion import EMOTIONS
from vasa.motion.features import FEATURES

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "assets" / "motion_dit.pt"  # bundled
MOTION_DIM = FEATURES.dim  # 34: pose (6) + dynamics (28) features, see motion/features.py
EMOTION_DIM = len(EMOTIONS)  # 7


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
class TrainMotionConfig:
    """steps/batch/lr: optimisation; ema: decay of the averaged weights we ship; eval_every,
    save_every: in steps; velocity_weight: the velocity loss term; threads: CPU threads."""

    steps: int = 3000
    batch: int = 32
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup: int = 200
    decay_from: float = 0.7  # share of the steps after which lr falls linearly to 10%
    stop_at: int | None = None  # stop (and export) at this step, on the schedule of `steps`
    ema: float = 0.998
    velocity_weight: float = 1.0  # see diffusion.training_loss
    eval_every: int = 250
    save_every: int = 500
    seed: int = 0
    threads: int = 1  # 1: fastest for this model size on a busy 2-core machine; 0: torch's
    av_offsets: str | None = None  # offsets file of `vasa train sync`: undo train clips' offsets
    model: MotionConfig = field(default_factory=MotionConfig)
