"""What a turn reveals that the portrait never showed: a far cheek drawn from the near one.

A turned portrait shows its far cheek foreshortened into a thin band along the outline. When
the head turns that side into view, the warp magnifies the band's triangles 2-20 times; their
pixels, lines along the outline, become streaks across the cheek, and whatever the outline
touches (hair, an earring) is pulled over it. A face is nearly symmetric, and the near cheek's
mirror triangles are seen wide in the portrait: they hold the skin's detail. So where a face
triangle is magnified past START (fully from FULL), and its mirror triangle is better resolved
in the portrait, its pixels take the detail of the mirror triangle's source (its ratio to its
own blur of DETAIL_SIGMA, within MAX_DETAIL: skin grain, not a crease or the near side's
outline) times the light of their own side: the stretched warp blurred within the face, right
even where its detail is streaks. At rest nothing is magnified, so the portrait renders as it
is, and the weight grows continuously with the stretch, so nothing pops.

scripts/reveal_report.py measures it (`vasa.evaluation.streaks`, benchmarks/results/reveal.md).
"""

from __future__ import annotations

import cv2
import numpy as np

from vasa.render.mesh import signed_areas
from vasa.render.warp import MeshWarper, affine_maps, remap

# A face triangle's area over its source's: mirror detail from START, fully from FULL. Under
# about 3x a stretched band still shows the portrait's own texture, only softer.
START, FULL = 3.0, 6.0
RESOLVED = 1.5  # the mirror triangle's source area over the triangle's own, at least
DETAIL_SIGMA = 0.04  # Gaussian blur separating light from detail, in eye distances
# Skin's own detail changes the light by a few percent; more, against the mirror's blur, is a
# feature or edge of the near side (a crease, its outline against hair or an ear), not copied.
# The detail is a ratio: the near cheek may be lit twice as bright as the far one. (0.1 eye
# distances and 15% copied more of the near cheek's shading, and its creases with it.)
MAX_DETAIL = 0.08
NEIGHBOURS = np.ones((3, 3), np.uint8)  # the weight map's erosion: one map pixel all round


def mirror_points(shape: np.ndarray) -> np.ndarray:
    """(N,) the index of each point's mirror image across the face's midline in a symmetric
    face `shape` (N, 3) (the face basis's template; mesh landmarks pair left with right)."""
    points = shape.astype(np.float64)
    flipped = points.copy()
    flipped[:, 0] = 2 * np.median(points[:, 0]) - points[:, 0]
    # Squared distances from each flipped point to every point, as |a|^2 - 2 a.b (+ |b|^2,
    # the same along a row): one product, a millisecond, where the broadcast took fifteen.
    d = (points ** 2).sum(1)[None, :] - 2 * flipped @ points.T
    return d.argmin(1)


class RevealFill:
    """Redraws magnified face triangles with their mirror's detail (see the module docstring).

    tris: (M, 3) mesh triangles; landmark_of: (V,) landmark per vertex (-1 for anchors);
    mirror: (N,) landmark mirror map (`mirror_points`); src: (V, 2) source vertices; skip:
    (M,) triangles never redrawn (eyes and mouth: the refiners draw those); eye_px: an eye
    distance in pixels."""

    def __init__(self, tris: np.ndarray, landmark_of: np.ndarray, mirror: np.ndarray,
                 src: np.ndarray, skip: np.ndarray, eye_px: float) -> None:
        row_of = np.full(int(mirror.max()) + 1, -1)
        face = np.flatnonzero(landmark_of >= 0)
        row_of[landmark_of[face]] = face
        lm = landmark_of[tris]  # (M, 3)
        twin = np.where((lm >= 0).all(1)[:, None], row_of[mirror[np.maximum(lm, 0)]], -1)
        self.src_area = signed_areas(src, tris)
        twin_area = np.abs(signed_areas(src, np.maximum(twin, 0)))
        # The mirror's source triangle is mirrored (its winding reversed): its area's size only.
        self.used = ((twin >= 0).all(1) & ~skip & (self.src_area > 0)
                     & (twin_area >= RESOLVED * self.src_area))
        self.tris, self.twin, self.src = tris, np.maximum(twin, 0), src
        self.face = (lm >= 0).all(1)  # (M,) triangles of the face itself
        self.sigma = DETAIL_SIGMA * eye_px

    def weights(self, dst: np.ndarray) -> np.ndarray:
        """(M,) float32 in [0, 1]: how much of each triangle is drawn from its mirror."""
        mag = signed_areas(dst, self.tris) / np.maximum(self.src_area, 1e-6)
        w = np.clip((mag - START) / (FULL - START), 0.0, 1.0)
        return np.where(self.used, w, 0.0).astype(np.float32)

    def __call__(self, frame: np.ndarray, image: np.ndarray, dst: np.ndarray,
                 warper: MeshWarper) -> None:
        """Redraw `frame` (S, S, 3) uint8 in place, warped from `image` through the mesh at
        `dst` (V, 2) by `warper` (its last `flow`, whose triangle map this reads)."""
        w_t = self.weights(dst)
        if not w_t.any():
            return
        ids = warper.ids
        # Not in a map pixel next to a triangle drawn from its own source: the upsampled mirror
        # map blends the two sources' positions there (pixels from neither, a line).
        w_low = cv2.erode(w_t[ids], NEIGHBOURS)
        rows, cols = np.nonzero(w_low)
        if len(rows) == 0:
            return  # the magnified triangles are hidden behind nearer ones
        size, scale = warper.size, warper.scale
        pad = 3 * self.sigma + 2 / scale
        x0, y0 = (max(int((v.min() + 0.5) / scale - 0.5 - pad), 0) for v in (cols, rows))
        x1, y1 = (min(int((v.max() + 1.5) / scale - 0.5 + pad) + 1, size) for v in (cols, rows))
        box = warper.box(x0, y0, x1, y1)
        # The mirror's source map: each used triangle's dst corners to its twin's src corners.
        rows = np.flatnonzero(w_t)
        twin = affine_maps(dst, self.src, self.twin[rows], dst_tris=self.tris[rows])
        mirrored = remap(image, warper.map_of(rows, twin, box)).astype(np.float32)
        own = frame[box.full].astype(np.float32)
        # Light from the face's own pixels only (not the hair or backdrop past its outline),
        # detail from the mirror's pixels only (not the pixels the upsampled map blends at
        # the used region's edge), each a blur normalised by its region.
        face = box.upsample(self.face[ids].astype(np.float32), nearest=True)[..., None]
        light = _blur_within(own, face, self.sigma)
        # Bilinear, the weight rises over a map step from the eroded edge, inside the used
        # triangles' pixels only (a blur would spread it onto the blended ones, a mask would
        # cut it along the map's staircase); the mirror's own pixels are where it is above 0.
        w = box.upsample(w_low)[..., None]
        used = (w > 0).astype(np.float32)
        detail = np.clip(mirrored / np.maximum(_blur_within(mirrored, used, self.sigma), 1.0),
                         1 - MAX_DETAIL, 1 + MAX_DETAIL)
        frame[box.full] = np.clip(own + w * (light * detail - own), 0, 255).astype(np.uint8)


def _blur_within(image: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur (H, W, C) of `image` over the pixels where `mask` (H, W, 1) is 1 only.
    Computed at half resolution: what it keeps is smooth, and it costs a quarter."""
    h, w = image.shape[:2]
    half = ((w + 1) // 2, (h + 1) // 2)
    small = cv2.resize(np.dstack([image * mask, mask]), half, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / 2)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return out[..., :-1] / np.maximum(out[..., -1:], 1e-3)


__all__ = ["RevealFill", "mirror_points"]
