"""Where the aligned crop meets the edge of the picture it is pasted back into (issue 13).

A tight headshot's crop reaches past the picture (`portrait.cut_crop` fills that with a mirror
nobody may see). Two things follow for a framed portrait:
- the paste shows no rendered pixel whose source lies past the picture's edge, and fades the
  render out where the crop's own edge lies on the picture, each over a few pixels
  (`render.paste.PasteBack`, whose ramps are made here by `edge_ramp`);
- the renderer holds the picture's edge and the crop's still (`EdgeHold`, pinned to the warp
  by `MeshWarper.pin`): each crop pixel's source moves only a share of the way to where the
  mesh puts it, 0 at either edge, rising to 1 over HOLD of the crop's side (`picture_hold`,
  that band as a map). Past the picture's edge nothing is known, and past the crop's the
  still picture shows, so a head moved toward an edge is squeezed a little there and a head
  moved away stretched; the mouth and eyes are drawn where the held warp shows them
  (`MeshWarper.held`). Without the hold the
  paste faded the moved render into the still picture near the edges, and a viewer saw
  both: a tight headshot's hairline twice after the head moved 20 px down, a dropped chin
  through the still chin and collar (`evaluation.ghost`: 5.2% of Audrey's picture doubled
  on LP d12).

The band over which the motion rises is HOLD of the side, wider on a frame whose head moved
far from an edge (`EdgeHold.widths`). In a band of width W a pixel at distance d from the edge
takes its source from d + ramp(d / W) * f, f the mesh's motion there along the edge's normal,
so where f points back to the edge (the head moved away from it) the source's rows are drawn
out over the band: a frame row shows 1 - 1.5 |f| / W of a source row at the ramp's steepest. With W = 0.08 of a 603 px
crop and a tight headshot's head dropped 40 px from the top of the picture, that is below
zero: the source runs backwards and the hair above the head is drawn mirrored in wavy streaks
(Audrey on Patrick Stewart's voice). So the band widens to STRETCH_K |f| (the source's rows
then spread at most 1 / (1 - 1.5 / STRETCH_K) = 2x), up to MAX_HOLD of the side, where the
motion needs it: near the edge the head moved away from, not along the others (widened
everywhere, the band reached a tight headshot's mouth from the picture's bottom edge and held
its lower lip back).
"""

from __future__ import annotations

import cv2
import numpy as np

# Share of the crop's side over which the motion rises from none (at an edge) to whole.
HOLD = 0.08
STRETCH_K = 3.0  # the band is at least this many times the motion away from the edge,
MAX_HOLD = 0.25  # but at most this share of the side
SAMPLE = 4  # px: the motion away from an edge is read on a grid this fine (it is smooth)
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


def _ramp(r: np.ndarray) -> np.ndarray:
    """Smoothstep of r clipped to [0, 1] (no kink to see)."""
    r = np.clip(r, 0.0, 1.0)
    return (r * r * (3 - 2 * r)).astype(np.float32)


def _past_margin(keep: np.ndarray) -> np.ndarray:
    """(S, S) float32 px: each crop pixel's distance past MARGIN_PX to a 0 in `keep`
    (S + 2, S + 2) uint8 (the crop and its ring)."""
    dist = cv2.distanceTransform(keep, cv2.DIST_L2, 3)[1:-1, 1:-1]
    return np.maximum(dist - MARGIN_PX, 0.0).astype(np.float32)


def edge_ramp(keep: np.ndarray, size: int, feather: float) -> np.ndarray:
    """(S, S) float32 weights of the crop's pixels by their distance to a 0 in `keep`
    (S + 2, S + 2) uint8 (the crop and its ring): 0 within MARGIN_PX, rising to 1 over
    `feather` of the side by a smoothstep."""
    return _ramp(_past_margin(keep) / max(feather * size, 1.0))


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


class EdgeHold:
    """The held edges of one framed portrait's crop (S, S): per frame, each pixel's source
    moves only a share of the way the mesh moves it (`apply`; `at` for points), over a band
    that widens where the motion away from the edge there needs it (`widths`)."""

    def __init__(self, to_crop: np.ndarray, shape: tuple[int, int], size: int) -> None:
        self.size = size
        self.distance = _past_margin(within_crop(on_picture(to_crop, shape, size)))
        self.base = HOLD * size
        self.most = MAX_HOLD * size
        g = np.arange(size, dtype=np.float32)
        self.grid = np.stack(np.meshgrid(g, g), -1)  # (S, S, 2) each pixel's own position
        share = np.repeat(_ramp(self.distance / self.base)[..., None], 2, -1)
        self._base = (share, self.grid * (1.0 - share))  # the HOLD band: share, still
        # The band's width is set on a grid SAMPLE times coarser, from the motion away from an
        # edge read there in the HOLD band, along the unit normal pointing away from the
        # nearest edge.
        coarse = -(-size // SAMPLE)
        self._coarse = (coarse, coarse)
        normal = np.stack([np.gradient(self.distance, axis=1),
                           np.gradient(self.distance, axis=0)], -1)[::SAMPLE, ::SAMPLE]
        norm = np.linalg.norm(normal, axis=-1)
        ys, xs = np.nonzero((self.distance[::SAMPLE, ::SAMPLE] < self.base) & (norm > 0.5))
        self._cells = (ys, xs)
        self._at = (ys * SAMPLE, xs * SAMPLE)
        self._pos = self.grid[self._at]  # (N, 2) the samples' own positions
        self._normal = (normal[ys, xs] / norm[ys, xs, None]).astype(np.float32)  # (N, 2)
        # A band's width spreads over the band it may need (MAX_HOLD) and is smoothed.
        self._spread = max(3, round(self.most / SAMPLE)) | 1

    def widths(self, source: np.ndarray) -> np.ndarray | None:
        """The band's width per cell of the coarse grid (px, float32) for a frame whose unheld
        source map is `source` (S, S, 2): STRETCH_K times the farthest the mesh moved a pixel of
        the HOLD band near there away from its edge, at least HOLD and at most MAX_HOLD of the
        side. None: HOLD everywhere."""
        ys, xs = self._at
        if not len(ys):
            return None
        # Motion away from the edge: the source lies nearer the edge than the pixel.
        away = np.einsum("nk,nk->n", self._pos - source[ys, xs], self._normal)
        if STRETCH_K * away.max() <= self.base or self.most <= self.base:
            return None
        need = np.full(self._coarse, self.base, np.float32)
        need[self._cells] = np.clip(STRETCH_K * away, self.base, self.most)
        need = cv2.dilate(need, np.ones((self._spread, self._spread), np.uint8))
        return cv2.GaussianBlur(need, (self._spread, self._spread), 0)

    def apply(self, source: np.ndarray, widths: np.ndarray | None) -> np.ndarray:
        """The held source map (S, S, 2) float32 of an unheld one: each pixel's source moved
        its share of the way from the pixel itself."""
        share, still = self._base
        held = cv2.add(cv2.multiply(source, share), still)  # source * share + grid * (1 - share)
        if widths is None:
            return held
        # Redone only in the box where the band is wider (the HOLD band's share elsewhere,
        # and at the box's edge: no seam).
        cells = np.nonzero(widths > self.base)
        if not len(cells[0]):
            return held
        y0, x0 = (max(0, (int(c.min()) - 2) * SAMPLE) for c in cells)
        y1, x1 = (min(self.size, (int(c.max()) + 3) * SAMPLE) for c in cells)
        box = np.s_[y0:y1, x0:x1]
        w = cv2.resize(widths, (self.size, self.size), interpolation=cv2.INTER_LINEAR)[box]
        wide = _ramp(self.distance[box] / w)
        g = self.grid[box]
        held[box] = g + cv2.merge([wide, wide]) * (source[box] - g)
        return held

    def at(self, points: np.ndarray, widths: np.ndarray | None) -> np.ndarray:
        """(N, 1) float64: the share kept at pixel positions `points` (N, 2+), as `apply`
        moves the pixels there."""
        xy = np.clip(np.rint(points[:, :2]), 0, self.size - 1).astype(np.intp)
        if widths is None:
            return self._base[0][xy[:, 1], xy[:, 0], :1].astype(np.float64)
        # The widths bilinearly at the points, as cv2.resize takes them.
        n = widths.shape[0]
        c = np.clip((xy + 0.5) * (n / self.size) - 0.5, 0.0, n - 1.0)
        i0 = np.minimum(np.floor(c).astype(np.intp), n - 2)
        tx, ty = (c - i0).T
        x0, y0 = i0.T
        top = widths[y0, x0] * (1 - tx) + widths[y0, x0 + 1] * tx
        bottom = widths[y0 + 1, x0] * (1 - tx) + widths[y0 + 1, x0 + 1] * tx
        w = top * (1 - ty) + bottom * ty
        return _ramp(self.distance[xy[:, 1], xy[:, 0]] / w)[:, None].astype(np.float64)


__all__ = ["FADE", "HOLD", "MARGIN_PX", "EdgeHold", "edge_ramp", "on_picture", "picture_hold",
           "within_crop"]
