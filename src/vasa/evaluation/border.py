"""The invented border: the share of an output frame that shows what is not in the portrait's
picture (issue 13).

The aligned crop hangs past the picture's edges on most tight headshots, and `warp_crop` fills
there with a blurred mirror: in the crop output (`--crop`) that band is part of every frame.
A pixel is invented when what it shows comes from outside the picture: its source, through
the renderer's warp and the crop affine, lies outside the picture's area ([-0.5, W - 0.5] x
[-0.5, H - 0.5] in pixel-centre coordinates). In the framed output (the default) the crop is
pasted back with a weight; a pixel counts when the crop's share of it is visible and the crop
pixel's source is outside. The test is geometric, made apart from the paste weights' own
margins, so that it checks them.
"""

from __future__ import annotations

import cv2
import numpy as np

from vasa.portrait import Portrait
from vasa.render.paste import PasteBack

VISIBLE = 1 / 510  # a paste weight under this changes no 8-bit value (255 * w < 0.5)


def crop_sources(to_crop: np.ndarray, size: int, flow: np.ndarray | None = None) -> np.ndarray:
    """(S, S, 2) float32 picture coordinates of what each crop pixel shows: the crop pixel
    itself (flow None, at rest) or its source in a frame rendered through `flow` (S, S, 2)."""
    if flow is None:
        g = np.arange(size, dtype=np.float32)
        flow = np.stack(np.meshgrid(g, g), -1)
    inv = cv2.invertAffineTransform(to_crop).astype(np.float32)
    return flow @ inv[:, :2].T + inv[:, 2]


def outside(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(...) bool: which points (..., 2) lie outside a picture of `shape` (H, W)."""
    h, w = shape
    x, y = points[..., 0], points[..., 1]
    return (x < -0.5) | (x > w - 0.5) | (y < -0.5) | (y > h - 0.5)


def invented_map(portrait: Portrait, flow: np.ndarray | None = None) -> np.ndarray:
    """(H, W) bool: the output pixels of `portrait` that show something from outside its
    picture, at rest (flow None) or for a frame rendered through `flow` (`Renderer.flow`)."""
    framing = portrait.framing
    if framing is None:
        raise ValueError(f"{portrait.source}: the portrait does not know its picture (a frame "
                         "encoded as it is): nothing to measure against")
    out = outside(crop_sources(framing.to_crop, portrait.size, flow), framing.shape)
    if not portrait.framed:
        return out
    paste = PasteBack(framing, portrait.size)
    shown = paste.to_picture(paste.weights(flow)) > VISIBLE
    # Bilinear on a 0/1 map: a picture pixel next to an outside source counts as outside.
    from_outside = paste.to_picture(out.astype(np.float32)) > 0
    full = np.zeros(framing.shape, bool)
    full[paste.roi] = shown & from_outside
    return full


def invented_fraction(portrait: Portrait, flow: np.ndarray | None = None) -> float:
    """The share of the output's pixels that are invented (`invented_map`)."""
    return float(invented_map(portrait, flow).mean())


__all__ = ["VISIBLE", "crop_sources", "invented_fraction", "invented_map", "outside"]
