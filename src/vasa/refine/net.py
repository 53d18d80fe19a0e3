"""The refiner network: a small U-Net that redraws the mouth crop (pure nn.Module).

Input (N, 8, CROP, CROP), values in [0, 1], channels as `render.mouth_crop.CHANNELS`: the
warped crop (3), the portrait's own mouth (3, the reference: lip colour, teeth, identity), the
target outer-lip and inner-lip masks (2).
Output (N, 3, CROP, CROP): the warped crop plus a bounded residual, so an untrained network is
the identity and the warp's sharp skin passes through untouched.

`PatchCritic` is the training-only discriminator of the adversarial term (pix2pix's PatchGAN):
it never ships.

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


class PatchCritic(nn.Module):
    """PatchGAN critic (Isola et al. 2017): a logit per overlapping patch (about 40 px of a
    128 px crop) of whether a crop is a real frame, given the warped crop it was made from.
    Spectral norm keeps it from overpowering a refiner this small. Input (N, 6, H, W): the
    picture and the warped crop; output (N, 1, H / 8, W / 8)."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        w = width
        self.net = nn.Sequential(
            sn(nn.Conv2d(6, w, 4, 2, 1)), nn.LeakyReLU(0.2),
            sn(nn.Conv2d(w, 2 * w, 4, 2, 1)), nn.LeakyReLU(0.2),
            sn(nn.Conv2d(2 * w, 4 * w, 4, 2, 1)), nn.LeakyReLU(0.2),
            sn(nn.Conv2d(4 * w, 1, 3, 1, 1)))

    def forward(self, picture: torch.Tensor, warped: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([picture, warped], 1))
