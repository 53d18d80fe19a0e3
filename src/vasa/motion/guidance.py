"""Classifier-free guidance as a wrapper around the network (VASA-1 eq. 2).

X0_hat = (1 + sum_c lambda_c) H(X_t, t, C) - sum_c lambda_c H(X_t, t, C | c = empty)

One unconditional term per condition c with a non-zero scale; all terms run as one batch.
"""

from __future__ import annotations

import torch

from vasa.motion.diffusion import Denoiser
from vasa.motion.dit import Conditions, MotionDiT
from vasa.motion.onnx_dit import OnnxDiT


def guided_denoiser(model: MotionDiT | OnnxDiT, cond: Conditions, cfg_audio: float = 0.0,
                    cfg_gaze: float = 0.0, cfg_emotion: float = 0.0) -> Denoiser:
    """(x_t (B, W, M), t (B,)) -> guided X0 estimate (B, W, M)."""
    scales = [(s, cond.with_drops(**{name: True})) for s, name in
              ((cfg_audio, "audio"), (cfg_gaze, "gaze"), (cfg_emotion, "emotion")) if s != 0.0]
    if not scales:
        return lambda x, t: model(x, t, cond)
    n = len(scales) + 1
    parts = [cond] + [c for _, c in scales]
    batched = Conditions(**{f: torch.cat([getattr(p, f) for p in parts]) for f in cond.__dict__})

    def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = model(x.repeat(n, 1, 1), t.repeat(n), batched).chunk(n)
        total = sum(s for s, _ in scales)
        guided = (1 + total) * out[0]
        for (s, _), o in zip(scales, out[1:]):
            guided = guided - s * o
        return guided

    return denoise
