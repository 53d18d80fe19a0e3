"""Fold counting for the renderer's triangle mesh: does a frame's geometry tear or turn over?

The renderer is a backward warp through a triangle mesh: each target triangle shows its source
triangle's pixels through one affine map. A triangle whose corners change their winding between
the source (the portrait) and the target frame shows its source mirrored; one squeezed to no
area is a crease that its neighbours stretch around. Either is a fold, unless it is hidden:

  flipped   - the target signed area has the opposite sign to the source's, or keeps under
              2% of the source's area (collapsed; mesh.COLLAPSE, mesh.facing: the renderer's
              own test). Not counted: triangles without an orientation in the source (under
              MIN_SOURCE_AREA px^2) and the openings (every corner on one eye contour or on the
              inner-lip contour: eyes and mouth close to nothing, and the renderer paints them
              over).
  exposed   - a pixel of a flipped triangle where no unflipped triangle is nearer: by per-pixel
              depth interpolated over the target triangles (a z-buffer at the frame's
              resolution), it is in front, or nothing else is there at all (a hole). Only pixel
              centres more than FRINGE_PX inside the triangle's edges are looked at: along a
              silhouette a turned-over triangle's edge may lie a fraction of a pixel outside
              the surface in front of it, below what the renderer resolves (its triangle map
              is 0.4x the frame).
  hidden    - a flipped triangle with no exposed pixel: behind the surface, the way a turned
              head's far cheek goes behind the nose and a lowered chin in front of the neck.
  fold      - a flipped triangle that is not hidden: what a viewer can see turned over,
              squeezed to a line, or through a hole.

Depth is the renderer's: larger = farther from the camera, in pixels. The count judges the
geometry a renderer builds (vertex positions and depths), not how it rasterises it.

A framed portrait's held edges (`render.picture_edge`) bend the final source map after the
mesh, where no triangle turns over: `map_area` reads that map itself, its portrait area per
frame pixel (under 0 folded, near 0 a few source rows drawn out in streaks;
`scripts/hold_report.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vasa.render.mesh import MIN_SOURCE_AREA, facing, signed_areas

DEPTH_TOL = 0.5  # px: a front triangle this little behind a flipped one still hides it (ties)
FRINGE_PX = 1.0  # pixels this close to a flipped triangle's edge are not looked at


@dataclass
class FoldCount:
    """One frame. flipped: triangles turned over or collapsed; folds: of those, the ones with
    exposed pixels; exposed_px: their exposed pixels, summed."""

    flipped: int
    folds: int
    exposed_px: int

    @property
    def hidden(self) -> int:
        return self.flipped - self.folds


def flipped_triangles(src: np.ndarray, dst: np.ndarray, tris: np.ndarray,
                      skip: np.ndarray | None = None) -> np.ndarray:
    """(M,) bool: triangles turned over or collapsed from `src` (V, 2) to `dst` (V, 2): those
    with a source winding that do not keep it (`vasa.render.mesh.facing`, the renderer's own
    test). skip: (M,) bool, triangles never counted (openings)."""
    oriented = np.abs(signed_areas(src, tris)) >= MIN_SOURCE_AREA
    out = oriented & ~facing(dst, src, tris)
    return out if skip is None else out & ~skip


def _barycentric(corners: np.ndarray, xs: np.ndarray, ys: np.ndarray, inset: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Which pixel centres of the grid xs x ys lie in each triangle `corners` (n, 3, 3) =
    (x, y, depth) rows, and its depth there: (inside (n, h, w) bool, depth (n, h, w)). inset:
    pixels a centre must lie inside every edge (negative: that far outside still counts, so
    that adjacent triangles leave no crack). Either winding; degenerate triangles hold none."""
    x, y, z = (corners[:, :, i, None, None] for i in range(3))  # (n, 3, 1, 1) each
    det = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
    ok = np.abs(det) > 1e-9
    det = np.where(ok, det, 1.0)
    px, py = xs[None, None, :] + 0.5, ys[None, :, None] + 0.5
    b1 = ((px - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (py - y[:, 0])) / det
    b2 = ((x[:, 1] - x[:, 0]) * (py - y[:, 0]) - (px - x[:, 0]) * (y[:, 1] - y[:, 0])) / det
    b0 = 1 - b1 - b2
    # A barycentric coordinate times its corner's height is the distance to the opposite edge.
    edges = corners[:, [1, 2, 0], :2] - corners[:, [2, 0, 1], :2]  # edge opposite each corner
    length = np.maximum(np.hypot(edges[..., 0], edges[..., 1]), 1e-12)  # (n, 3)
    height = np.abs(det)[:, None] / length[..., None, None]  # (n, 3, 1, 1)
    inside = ok & (b0 * height[:, 0] > inset) & (b1 * height[:, 1] > inset) & \
        (b2 * height[:, 2] > inset)
    return inside, b0 * z[:, 0] + b1 * z[:, 1] + b2 * z[:, 2]


def exposed_pixels(dst: np.ndarray, depth: np.ndarray, tris: np.ndarray, flipped: np.ndarray,
                   size: int) -> np.ndarray:
    """(M,) exposed pixels of each flipped triangle (0 for the rest), by a z-buffer of the
    unflipped triangles over its pixels, in a `size` x `size` frame. dst: (V, 2) target
    pixels; depth: (V,)."""
    corners = np.concatenate([dst[:, :2], depth[:, None]], 1)[tris]  # (M, 3, 3)
    lo = np.clip(np.floor(corners[:, :, :2].min(1) - 0.5), 0, size - 1).astype(int)  # (M, 2)
    hi = np.clip(np.ceil(corners[:, :, :2].max(1) - 0.5), 0, size - 1).astype(int)
    front = np.flatnonzero(~flipped)
    out = np.zeros(len(tris), np.int64)
    for t in np.flatnonzero(flipped):
        xs, ys = np.arange(lo[t, 0], hi[t, 0] + 1), np.arange(lo[t, 1], hi[t, 1] + 1)
        own, own_z = _barycentric(corners[t:t + 1], xs, ys, FRINGE_PX)
        if not own.any():
            continue
        near = front[np.all((lo[front] <= hi[t]) & (hi[front] >= lo[t]), 1)]
        cover, cover_z = _barycentric(corners[near], xs, ys, -1e-6)
        nearest = np.where(cover, cover_z, np.inf).min(0, initial=np.inf)  # (h, w)
        out[t] = np.count_nonzero(own[0] & ~(nearest <= own_z[0] + DEPTH_TOL))
    return out


def count_folds(src: np.ndarray, dst: np.ndarray, depth: np.ndarray, tris: np.ndarray,
                size: int, skip: np.ndarray | None = None) -> FoldCount:
    """Folds of one frame: source vertices `src` (V, 2), target vertices `dst` (V, 2) with
    `depth` (V,) (larger = farther), triangles `tris` (M, 3), frame side `size` px; skip: (M,)
    triangles not counted (`vasa.render.mesh.opening_triangles`)."""
    flipped = flipped_triangles(src, dst, tris, skip)
    exposed = exposed_pixels(dst, depth, tris, flipped, size)
    return FoldCount(flipped=int(flipped.sum()), folds=int(np.count_nonzero(exposed)),
                     exposed_px=int(exposed.sum()))


def map_area(flow: np.ndarray) -> np.ndarray:
    """(S, S) float32: the determinant of a source map's (S, S, 2) Jacobian, the portrait's area
    each frame pixel shows (1 unmoved, under 0 folded)."""
    dx = np.gradient(flow, axis=1)
    dy = np.gradient(flow, axis=0)
    return (dx[..., 0] * dy[..., 1] - dx[..., 1] * dy[..., 0]).astype(np.float32)
