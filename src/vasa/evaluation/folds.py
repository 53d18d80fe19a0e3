"""Fold counting for the renderer's triangle mesh: does a frame's geometry tear or turn over?

The renderer is a backward warp through a triangle mesh: each target triangle shows its source
triangle's pixels through one affine map. A triangle whose corners change their winding between
the source (the portrait) and the target frame shows its source mirrored; one squeezed to no
area stretches its neighbours. Either is a fold, unless the triangle is legitimately hidden:

  flipped   - the target signed area has the opposite sign to the source's, or keeps under
              COLLAPSE of the source's area (collapsed). Triangles without an orientation in the
              source (under MIN_SOURCE_AREA px^2) and the openings (every corner on one eye
              contour or on the inner-lip contour: eyes and mouth are painted over by the
              renderer's own synthesis) are not counted.
  hidden    - a flipped triangle behind the surface: at every full-resolution pixel centre
              strictly inside it, a triangle that is not flipped covers the pixel and is nearer
              (or as near, within DEPTH_TOL px) at that pixel, by per-pixel depth interpolated
              over the target triangles (a z-buffer). A turned head's far cheek folds behind the
              nose exactly like this; a neck ring crossing the jaw in front of it does not.
  fold      - flipped and not hidden: what a viewer can see turned over, collapsed to a line,
              or through a hole. A triangle too thin to contain a pixel centre is hidden.

Depth is the renderer's: larger = farther from the camera, in pixels (the landmarks' z scale).
The count judges the geometry a renderer builds (vertices, depths), not how it rasterises it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vasa.render.mesh import signed_areas

COLLAPSE = 0.02  # target/source area ratio under which a triangle counts as collapsed
MIN_SOURCE_AREA = 0.5  # px^2: a source triangle smaller than this has no orientation to keep
DEPTH_TOL = 0.5  # px: a front triangle this little behind a flipped one still hides it (ties)
_EPS = 1e-9


@dataclass
class FoldCount:
    """One frame. flipped: triangles turned over or collapsed; hidden: of those, the ones behind
    unflipped surface everywhere; folds: flipped - hidden (what can be seen)."""

    flipped: int
    hidden: int

    @property
    def folds(self) -> int:
        return self.flipped - self.hidden


def flipped_triangles(src: np.ndarray, dst: np.ndarray, tris: np.ndarray,
                      skip: np.ndarray | None = None) -> np.ndarray:
    """(M,) bool: triangles turned over or collapsed from `src` (V, 2) to `dst` (V, 2).
    skip: (M,) bool, triangles never counted (openings)."""
    a_src, a_dst = signed_areas(src, tris), signed_areas(dst, tris)
    oriented = np.abs(a_src) >= MIN_SOURCE_AREA
    ratio = a_dst / np.where(oriented, a_src, 1.0)
    out = oriented & (ratio < COLLAPSE)
    return out if skip is None else out & ~skip


def _raster(corners: np.ndarray, size: int, strict: bool
            ) -> tuple[slice, slice, np.ndarray, np.ndarray] | None:
    """Pixel centres of a (3, 3) triangle (x, y, depth) in a size x size frame: (rows, cols,
    inside (h, w) bool, depth (h, w)). strict: interior only; else edges count too (so that
    adjacent triangles leave no crack)."""
    lo = np.maximum(np.floor(corners[:, :2].min(0) - 0.5), 0).astype(int)
    hi = np.minimum(np.ceil(corners[:, :2].max(0) - 0.5), size - 1).astype(int)
    if np.any(hi < lo):
        return None
    xs = np.arange(lo[0], hi[0] + 1) + 0.5
    ys = np.arange(lo[1], hi[1] + 1) + 0.5
    px, py = np.meshgrid(xs, ys)
    (x0, y0, z0), (x1, y1, z1), (x2, y2, z2) = corners
    det = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
    if abs(det) < _EPS:
        return None
    b1 = ((px - x0) * (y2 - y0) - (x2 - x0) * (py - y0)) / det
    b2 = ((x1 - x0) * (py - y0) - (px - x0) * (y1 - y0)) / det
    b0 = 1 - b1 - b2
    edge = 1e-6 if strict else -1e-6  # barycentric margin: strictly inside, or edges too
    inside = (b0 > edge) & (b1 > edge) & (b2 > edge)
    depth = b0 * z0 + b1 * z1 + b2 * z2
    return slice(lo[1], hi[1] + 1), slice(lo[0], hi[0] + 1), inside, depth


def hidden_triangles(dst: np.ndarray, depth: np.ndarray, tris: np.ndarray, flipped: np.ndarray,
                     size: int) -> np.ndarray:
    """(M,) bool: flipped triangles covered everywhere by nearer unflipped ones (z-buffer at
    full resolution, `size` x `size` pixels). dst: (V, 2) target pixels; depth: (V,)."""
    corners = np.concatenate([dst[:, :2], depth[:, None]], 1)[tris]  # (M, 3, 3)
    front = np.full((size, size), np.inf)
    for t in np.flatnonzero(~flipped):
        r = _raster(corners[t], size, strict=False)
        if r is not None:
            rows, cols, inside, z = r
            view = front[rows, cols]
            np.minimum(view, np.where(inside, z, np.inf), out=view)
    out = np.zeros(len(tris), bool)
    for t in np.flatnonzero(flipped):
        r = _raster(corners[t], size, strict=True)
        if r is None:
            out[t] = True  # no pixel centre inside: nothing to see
            continue
        rows, cols, inside, z = r
        out[t] = bool(np.all(front[rows, cols][inside] <= z[inside] + DEPTH_TOL))
    return out


def count_folds(src: np.ndarray, dst: np.ndarray, depth: np.ndarray, tris: np.ndarray,
                size: int, skip: np.ndarray | None = None) -> FoldCount:
    """Folds of one frame: source vertices `src` (V, 2), target vertices `dst` (V, 2) with
    `depth` (V,) (larger = farther), triangles `tris` (M, 3), frame side `size` px."""
    flipped = flipped_triangles(src, dst, tris, skip)
    hidden = hidden_triangles(dst, depth, tris, flipped, size) & flipped
    return FoldCount(flipped=int(flipped.sum()), hidden=int(hidden.sum()))
