"""Where the aligned crop meets the edge of the picture it is pasted back into (issue 13).

A tight headshot's crop reaches past the picture (`portrait.cut_crop` fills that with a mirror
nobody may see). Two things follow for a framed portrait:
- the paste shows no rendered pixel whose source lies past the picture's edge, and fades the
  render out where the crop's own edge lies on the picture, each over a few pixels
  (`render.paste.PasteBack`, whose ramps are made here by `edge_ramp`);
- the renderer holds the picture's edge and the crop's still (`picture_hold`, applied by
  `MeshWarper.pin`): each crop pixel's source moves only a share of the way to where the mesh
  puts it, 0 at either edge, rising to 1 over HOLD of the crop's side. Past the picture's
  edge nothing is known, and past the crop's the still picture shows, so a head moved toward
  an edge is squeezed a little there and a head moved away stretched; the mouth and eyes are
  drawn where the held warp shows them (`MeshWarper.held`). Without the hold the
  paste faded the moved render into the still picture near the edges, and a viewer saw
  both: a tight headshot's hairline twice after the head moved 20 px down, a dropped chin
  through the still chin and collar (`evaluation.ghost`: 5.2% of Audrey's picture doubled
  on LP d12).
"""

from __future__ import annotations

import cv2
import numpy as np

# Share of the crop's side over which the motion rises from none (at an edge) to whole.
HOLD = 0.08
# Paste weight 0 this close to a crop pixel that is not the picture's (outside it, or outside
# the crop itself, where the renderer replicates the edge): the crop's cubic resampling (2 px)
# and the renderer's bilinear sampling (1 px) would reach it. The still picture shows there.
MARGIN_PX = 3
# ... rising to 1 over this share of the side past the margin. Short: with the edges held, the
# render there is the still picture, resampled, and the fade only hides the resampling. Over
# 0.08 (before the hold) it faded the moved render into the still picture, both seen.
FADE = 0.01


def on_picture(to_crop: np.ndarray, shape: tuple[int, int], size: int) -> np.ndarray:
    """(S + 2, S + 2) uint8: 1 where a pixel of the crop (S, S) that `to_crop` (2, 3) cuts from
    a picture of `shape` (H, W), or of a one-pixel ring round it, lies on the picture."""
    ring = np.array(to_crop, np.float64)
    ring[:, 2] += 1.0
    return cv2.warpAffine(np.ones(shape, np.uint8), ring, (size + 2, size + 2),
                          flags=cv2.INTER_NEAREST, borderValue=0)


def edge_ramp(keep: np.ndarray, size: int, feather: float) -> np.ndarray:
    """(S, S) float32 weights of the crop's pixels by their distance to a 0 in `keep`
    (S + 2, S + 2) uint8 (the crop and its ring): 0 within MARGIN_PX, rising to 1 over
    `feather` of the side by a smoothstep (no kink to see)."""
    dist = cv2.distanceTransform(keep, cv2.DIST_L2, 3)[1:-1, 1:-1]
    r = np.clip((dist - MARGIN_PX) / max(feather * size, 1.0), 0.0, 1.0)
    return (r * r * (3 - 2 * r)).astype(np.float32)


def within_crop(on: np.ndarray) -> np.ndarray:
    """`on_picture`'s map with its ring cleared: the crop's surround is never the picture's
    (the renderer replicates the crop's edge there)."""
    out = on.copy()
    out[[0, -1]] = out[:, [0, -1]] = 0
    return out


def picture_hold(to_crop: np.ndarray, shape: tuple[int, int], size: int) -> np.ndarray:
    """(S, S) float32: the share of the head's motion each crop pixel keeps, 0 at the edge of
    the picture of `shape` (H, W) and at the crop's own edge (where the paste meets the still
    picture: a moving render faded into it there showed both), rising to 1 over HOLD."""
    return edge_ramp(within_crop(on_picture(to_crop, shape, size)), size, HOLD)


__all__ = ["FADE", "HOLD", "MARGIN_PX", "edge_ramp", "on_picture", "picture_hold",
           "within_crop"]
