"""Lips that shut inside speech: where a speaker's lips close, read off the audio.

The diffusion generator draws the mouth's opening with the rhythm and loudness of speech but
seldom shuts it while someone talks: re-tracked on the cross-identity protocol its lips closed
at 0.50x the real speakers' rate at the bilabials /p b m/ (issue 12). Real lips close for a few
frames at every /p b m/ and at many consonant clusters.

`ClosureNet` is a small dilated 1-D convolution over +-8 frames of the generator's own audio
features that predicts how shut a speaker's lips are at a frame (its training target, from the
tracked training video: the inner-lip gap's distance under the segment's median, over its
10-90% range). `LipClosure` turns that into a closing strength: 1 where the prediction is in
the top `closed_share` of the training speech's talking frames (4%: see
`train_closure.TrainClosureConfig`), 0 below, smooth over a narrow band. The engine scales the
generated opening by (1 - strength). It is trained on video only (no phone labels):
its 0.68 speaker-disjoint AUC for the tracked shut frames (`scripts/closure_cv.py`; the
loudness alone: 0.60) is a measured, modest skill, and the
articulation measure (`vasa.evaluation.phones`, a separate phone recogniser) judges it.
Not in the paper: VASA-1 learns this inside its generator from 500 hours of video.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

DEFAULT_CLOSURE = Path(__file__).resolve().parents[1] / "assets" / "lip_closure.pt"
CONTEXT = 8  # frames either side the network sees: 1 + 4 + 4 + 8 = 17 frames
SOFT = 0.15  # strength rises from 0 to 1 over threshold +- SOFT * (spread of the predictions)


@dataclass
class ClosureConfig:
    """The network: `width` channels, dropout between layers; `audio_dim` input features."""

    audio_dim: int = 85
    width: int = 32
    dropout: float = 0.3


class ClosureNet(nn.Module):
    """(B, A, T) normalised audio features -> (B, T) predicted lip shutness."""

    def __init__(self, cfg: ClosureConfig) -> None:
        super().__init__()
        w = cfg.width
        self.cfg = cfg
        self.layers = nn.Sequential(
            nn.Conv1d(cfg.audio_dim, w, 5, padding=2), nn.GELU(), nn.Dropout(cfg.dropout),
            nn.Conv1d(w, w, 3, padding=2, dilation=2), nn.GELU(), nn.Dropout(cfg.dropout),
            nn.Conv1d(w, w, 3, padding=4, dilation=4), nn.GELU(),
            nn.Conv1d(w, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x).squeeze(1)


@dataclass
class LipClosure:
    """strength(features (T, A) raw audio features) -> (T,) in [0, 1]: how far to shut the lips.

    mean/std: the training features' normalisation; threshold: the prediction above which the
    training speech's lips were shut as often as real ones (`closed_share` of speech frames);
    spread: the predictions' 10-90% range on the training speech; extractor: the audio features'
    id; info: training figures."""

    net: ClosureNet
    mean: np.ndarray
    std: np.ndarray
    threshold: float
    spread: float
    extractor: str
    info: dict

    def predict(self, features: np.ndarray) -> np.ndarray:
        x = (np.asarray(features, np.float32) - self.mean) / self.std
        with torch.no_grad():
            return self.net(torch.from_numpy(x.T.copy())[None])[0].numpy().astype(np.float64)

    def strength(self, features: np.ndarray) -> np.ndarray:
        if len(features) == 0:
            return np.zeros(0)
        lo = self.threshold - SOFT * self.spread
        x = np.clip((self.predict(features) - lo) / (2 * SOFT * self.spread), 0.0, 1.0)
        return x * x * (3 - 2 * x)  # smoothstep: no visible snap

    def state(self) -> dict:
        return {"config": vars(self.net.cfg), "state_dict": self.net.state_dict(),
                "mean": torch.from_numpy(np.asarray(self.mean, np.float32)),
                "std": torch.from_numpy(np.asarray(self.std, np.float32)),
                "threshold": float(self.threshold), "spread": float(self.spread),
                "extractor": self.extractor, "info": self.info}


def save_closure(path: str | Path, closure: LipClosure) -> None:
    from vasa.files import atomic_output

    with atomic_output(path) as tmp:
        torch.save(closure.state(), tmp)


def load_closure(path: str | Path = DEFAULT_CLOSURE, extractor: str | None = None
                 ) -> LipClosure:
    """A closure model file; refuses one made for other audio features than `extractor`."""
    from vasa.motion.checkpoint import load_torch_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: lip closure model not found")
    raw = load_torch_file(path, "lip closure model")
    try:
        net = ClosureNet(ClosureConfig(**raw["config"]))
        net.load_state_dict(raw["state_dict"])
        closure = LipClosure(net.eval(), raw["mean"].numpy(), raw["std"].numpy(),
                             float(raw["threshold"]), float(raw["spread"]),
                             str(raw["extractor"]), dict(raw.get("info", {})))
    except (KeyError, TypeError, RuntimeError) as e:
        raise ValueError(f"{path}: not a lip closure model ({e})") from None
    if extractor is not None and closure.extractor != extractor:
        raise ValueError(f"{path}: made for audio features {closure.extractor}, "
                         f"not {extractor}")
    return closure
