"""The noise process and the sampler, separate from the network (DiT / k-diffusion style).

Continuous time t in [0, 1] with the cosine schedule of Nichol & Dhariwal 2021:
alpha_bar(t) = cos^2((t + s) / (1 + s) * pi / 2). The network predicts X0 (VASA-1 section 2);
the loss is E ||X0 - H(X_t, t, C)||^2 over uniformly sampled t.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

S = 0.008
Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t, t) -> x0


def alpha_bar(t: torch.Tensor) -> torch.Tensor:
    """Signal share at time t (B,) -> (B,), from 1 at t=0 down to ~0 at t=1."""
    f = torch.cos((t + S) / (1 + S) * math.pi / 2) ** 2
    f0 = math.cos(S / (1 + S) * math.pi / 2) ** 2
    return (f / f0).clamp(1e-5, 1.0)


def q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """X_t = sqrt(a) X0 + sqrt(1 - a) noise, for x0 (B, ...) and t (B,)."""
    a = alpha_bar(t).view(-1, *([1] * (x0.dim() - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def training_loss(model: Callable, x0: torch.Tensor, cond, generator: torch.Generator | None = None,
                  velocity_weight: float = 0.0) -> torch.Tensor:
    """VASA-1 section 2: E_t ||X0 - H(X_t, t, C)||^2, t uniform.

    velocity_weight adds the frame-to-frame velocity term of MDM (Tevet et al. 2023),
    ||dX0/dt - dH/dt||^2: with little data, the plain loss leaves frame-rate jitter in the
    predicted pose that this term removes, at no cost at sampling time."""
    t = torch.rand(x0.shape[0], generator=generator, device=x0.device)
    noise = torch.randn(x0.shape, generator=generator, device=x0.device)
    pred = model(q_sample(x0, t, noise), t, cond)
    loss = ((pred - x0) ** 2).mean()
    if velocity_weight:
        vel = (pred[:, 1:] - pred[:, :-1]) - (x0[:, 1:] - x0[:, :-1])
        loss = loss + velocity_weight * (vel ** 2).mean()
    return loss


@torch.no_grad()
def sample_ddim(denoiser: Denoiser, noise: torch.Tensor, steps: int) -> torch.Tensor:
    """Deterministic DDIM (Song et al. 2021, eta = 0) with an X0-predicting denoiser.

    noise: (B, W, M) standard normal at t = 1; returns the X0 estimate after `steps` steps."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    x = noise
    ts = torch.linspace(1.0, 0.0, steps + 1)
    for i in range(steps):
        t, t_next = ts[i], ts[i + 1]
        tb = t.expand(x.shape[0])
        x0 = denoiser(x, tb)
        a, a_next = alpha_bar(tb)[0], alpha_bar(t_next.view(1))[0]
        eps = (x - a.sqrt() * x0) / (1 - a).sqrt().clamp_min(1e-8)
        x = x0 if i == steps - 1 else a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps
    return x
