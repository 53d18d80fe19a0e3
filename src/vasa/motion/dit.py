"""The diffusion transformer H of VASA-1 section 2: predicts clean motion X0 from noisy X_t.

Tokens: the K frames of the previous window (its motion and audio), then the W frames being
generated (noisy motion plus this window's audio). Global conditions (diffusion step, gaze g,
head distance d, emotion offset e) modulate every block through adaptive layer norm, as in DiT
(Peebles & Xie 2023, adaLN-Zero). Every condition has a learned "empty" value, used when it is
dropped for classifier-free guidance. The network knows nothing about noise schedules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from vasa.motion.config import MotionConfig


@dataclass
class Conditions:
    """Batched conditions; a mask entry True means "dropped" (use the empty embedding).

    audio: (B, W, A); x_pre: (B, K, M); a_pre: (B, K, A); gaze: (B, 2); distance: (B, 1);
    emotion: (B, E); masks: drop_audio (B, W) per frame, drop_pre, drop_gaze, drop_distance,
    drop_emotion (B,)."""

    audio: torch.Tensor
    x_pre: torch.Tensor
    a_pre: torch.Tensor
    gaze: torch.Tensor
    distance: torch.Tensor
    emotion: torch.Tensor
    drop_audio: torch.Tensor
    drop_pre: torch.Tensor
    drop_gaze: torch.Tensor
    drop_distance: torch.Tensor
    drop_emotion: torch.Tensor

    def repeat(self, n: int) -> Conditions:
        return Conditions(**{k: v.repeat(n, *([1] * (v.dim() - 1)))
                             for k, v in self.__dict__.items()})

    def with_drops(self, audio: bool = False, gaze: bool = False, emotion: bool = False
                   ) -> Conditions:
        """A copy with some conditions dropped (for the unconditional terms of eq. 2)."""
        c = Conditions(**self.__dict__)
        if audio:
            c.drop_audio = torch.ones_like(c.drop_audio)
        if gaze:
            c.drop_gaze = torch.ones_like(c.drop_gaze)
        if emotion:
            c.drop_emotion = torch.ones_like(c.drop_emotion)
        return c


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of t in [0, 1] (scaled to 1000 steps), (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device) / half)
    args = t[:, None].float() * 1000 * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], -1)


def _select(value: torch.Tensor, empty: torch.Tensor, drop: torch.Tensor) -> torch.Tensor:
    """value where not dropped, else the learned empty embedding (broadcast over batch)."""
    mask = drop.to(value.dtype).unsqueeze(-1)
    return value * (1 - mask) + empty * mask


class Block(nn.Module):
    """Pre-norm transformer block with adaLN-Zero modulation by the global condition."""

    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(approximate="tanh"),
                                 nn.Dropout(dropout), nn.Linear(4 * width, width))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))
        nn.init.zeros_(self.ada[1].weight)  # adaLN-Zero: each block starts as the identity
        nn.init.zeros_(self.ada[1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(c).unsqueeze(1).chunk(6, -1)
        h = self.norm1(x) * (1 + scale1) + shift1
        x = x + gate1 * self.attn(h, h, h, need_weights=False)[0]
        h = self.norm2(x) * (1 + scale2) + shift2
        return x + gate2 * self.mlp(h)


class MotionDiT(nn.Module):
    """H(X_t, t, C) -> X0. Shapes: x_t (B, W, M), t (B,) in [0, 1] -> (B, W, M)."""

    def __init__(self, cfg: MotionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.width
        self.x_in = nn.Linear(cfg.motion_dim, d)
        self.a_in = nn.Linear(cfg.audio_dim, d)
        self.xp_in = nn.Linear(cfg.motion_dim, d)
        self.ap_in = nn.Linear(cfg.audio_dim, d)
        self.pos = nn.Parameter(torch.randn(1, cfg.prev + cfg.window, d) * 0.02)
        self.empty_audio = nn.Parameter(torch.zeros(d))
        self.empty_pre = nn.Parameter(torch.zeros(d))
        self.t_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.g_in = nn.Linear(2, d)
        self.d_in = nn.Linear(1, d)
        self.e_in = nn.Linear(cfg.emotion_dim, d)
        self.empty_g = nn.Parameter(torch.zeros(d))
        self.empty_d = nn.Parameter(torch.zeros(d))
        self.empty_e = nn.Parameter(torch.zeros(d))
        self.blocks = nn.ModuleList(Block(d, cfg.heads, cfg.dropout) for _ in range(cfg.layers))
        self.norm_out = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))
        self.out = nn.Linear(d, cfg.motion_dim)
        nn.init.zeros_(self.ada_out[1].weight)
        nn.init.zeros_(self.ada_out[1].bias)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, c: Conditions) -> torch.Tensor:
        k = self.cfg.prev
        audio = _select(self.a_in(c.audio), self.empty_audio, c.drop_audio)  # (B, W, D)
        cur = self.x_in(x_t) + audio  # (B, W, D)
        pre = self.xp_in(c.x_pre) + self.ap_in(c.a_pre)  # (B, K, D)
        pre = _select(pre, self.empty_pre, c.drop_pre[:, None].expand(-1, k))
        h = torch.cat([pre, cur], 1) + self.pos  # (B, K + W, D)
        cond = self.t_mlp(timestep_embedding(t, self.cfg.width))  # (B, D)
        cond = cond + _select(self.g_in(c.gaze), self.empty_g, c.drop_gaze)
        cond = cond + _select(self.d_in(c.distance), self.empty_d, c.drop_distance)
        cond = cond + _select(self.e_in(c.emotion), self.empty_e, c.drop_emotion)
        for block in self.blocks:
            h = block(h, cond)
        shift, scale = self.ada_out(cond).unsqueeze(1).chunk(2, -1)
        h = self.norm_out(h[:, k:]) * (1 + scale) + shift  # (B, W, D): generated frames only
        return self.out(h)  # (B, W, M)
