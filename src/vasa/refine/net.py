"""The refiner network: a small U-Net that redraws the mouth crop (pure nn.Module).

Input (N, 8, CROP, CROP), values in [0, 1], channels as `render.mouth_crop.CHANNELS`: the
warped crop (3), the portrait's own mouth (3, the reference: lip colour, teeth, identity), the
target outer-lip and inner-lip masks (2).
Output (N, 3, CROP, CROP): the warped crop plus a bounded residual, so an untrained network is
the identity and the warp's sharp skin passes through untouched.

The U-Net works at half the crop's resolution: the input is folded 2x2 into channels (pixel
unshuffle) and the output unfolded (pixel shuffle), which keeps every input pixel but costs a
quarter of the arithmetic at the widest level; it runs in a few ms per frame on one CPU core.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vasa.refine.config import RefinerConfig
from vasa.render.mouth_crop import IN_CHANNELS


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.2),
                         nn.Conv2d(cout, cout, 3, 1, 1), nn.LeakyReLU(0.2))


class Refiner(nn.Module):
    def __init__(self, config: RefinerConfig | None = None) -> None:
        super().__init__()
        self.config = config or RefinerConfig()
        w = self.config.widths
        self.down = nn.ModuleList([_block(4 * IN_CHANNELS, w[0])] +
                                  [_block(w[i - 1], w[i], 2) for i in range(1, len(w))])
        self.up = nn.ModuleList([_block(w[i] + w[i - 1], w[i - 1])
                                 for i in range(len(w) - 1, 0, -1)])
        self.out = nn.Conv2d(w[0], 4 * 3, 3, 1, 1)
        nn.init.zeros_(self.out.weight)  # starts as the identity on the warped crop
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        h = F.pixel_unshuffle(x, 2)  # (N, 32, S / 2, S / 2)
        for block in self.down:
            h = block(h)  # (N, w_i, S / 2^(i+1), S / 2^(i+1))
            skips.append(h)
        h = skips.pop()  # the deepest level
        for block in self.up:
            skip = skips.pop()
            h = F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            h = block(torch.cat([h, skip], 1))  # (N, w_{i-1}, 2x, 2x)
        residual = torch.tanh(F.pixel_shuffle(self.out(h), 2))  # (N, 3, S, S) in (-1, 1)
        return (x[:, :3] + residual).clamp(0.0, 1.0)
