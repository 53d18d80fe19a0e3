"""Double images at the paste's edge: where a viewer sees the moved head and the still
picture at once (issue 13: frames that pass for video).

The framed output blends each rendered crop into the still picture with a weight that falls
from 1 to 0 near the crop's and the picture's edges (`render.paste.PasteBack.weights`). Where the render there is the
picture, resampled, the blend is invisible; where the head has moved, a partial weight shows
both: a chin that has dropped over the still chin and collar, grey and half transparent (the
tight headshots whose chin lies near the picture's bottom edge). A pixel is a ghost when the
crop's weight is between GHOST_WEIGHT and 1 - GHOST_WEIGHT and the render and the picture
differ there by more than GHOST_LEVELS (the largest of the three channels): both are seen, and
they are not the same thing. The person matte's own soft edge (hair over the backdrop) is a
different blend and is left out: the weight measured is the paste's.
"""

from __future__ import annotations

import cv2
import numpy as np

GHOST_WEIGHT = 0.15  # a layer under this share of a pixel is hardly seen through the other
GHOST_LEVELS = 24  # of 255: render and picture differ past resampling and a little shading


def ghost_map(paste, crop: np.ndarray, flow: np.ndarray | None) -> np.ndarray:
    """(H, W) bool: the output pixels of a frame whose crop `crop` (S, S, 3) uint8 was rendered
    through `flow` (S, S, 2) (None: at rest) and pasted by `paste` (a `PasteBack`) that show
    the render and the still picture at once, and differently."""
    w = paste.to_picture(paste.weights(flow))
    rendered = paste.to_picture(crop, cv2.BORDER_REPLICATE)
    still = paste.picture[paste.roi]
    differ = cv2.absdiff(rendered, still).max(-1) > GHOST_LEVELS
    out = np.zeros(paste.picture.shape[:2], bool)
    out[paste.roi] = differ & (w > GHOST_WEIGHT) & (w < 1.0 - GHOST_WEIGHT)
    return out


def ghost_fraction(paste, crop: np.ndarray, flow: np.ndarray | None) -> float:
    """The share of the output's pixels that are ghosts (`ghost_map`)."""
    return float(ghost_map(paste, crop, flow).mean())


__all__ = ["GHOST_LEVELS", "GHOST_WEIGHT", "ghost_fraction", "ghost_map"]
