"""Piecewise-affine backward warp of an image by a triangle mesh, fast on a CPU.

For every output pixel we need the source pixel it shows. The target mesh is rasterised into a
triangle-index map at a reduced resolution; each pixel's source position is its triangle's affine
map applied to it. The mesh is a 3D surface (mesh.py): where the head turns, part of it faces
away from the camera (its screen winding reverses) and nearer surface covers it. Triangles
facing away are drawn first, beneath all others, so they never show their source mirrored (a
mesh whose source is unfolded and whose border is fixed leaves no pixel to them: every point
inside the border is covered by one more triangle facing the camera than facing away), and so
are triangles squeezed edge-on (`mesh.facing`); the rest are drawn far to near, so the nearer
surface wins where they overlap. The map is continuous across triangle edges, so bilinear upsampling to full
size is nearly exact; one cv2.remap then samples the source image.
"""

from __future__ import annotations

import cv2
import numpy as np

from vasa.render.mesh import facing

SHIFT = 4  # sub-pixel bits for cv2.fillConvexPoly
MIN_AREA2 = 1e-2  # twice a target triangle's area (px^2) under which it is taken as flat


def affine_maps(dst: np.ndarray, src: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """(M, 2, 3) affine maps taking each triangle's dst corners to its src corners.

    dst, src: (V, 2) vertex positions; tris: (M, 3) vertex indices. A target triangle of almost
    no area (a closed mouth opening, a shut eye) still rasterises as a line of pixels, and its
    inverse is near singular: it would sample far outside its source triangle (blocks of the
    suit's colour on a shut eye). It maps to its source centroid instead.
    """
    p0, p1, p2 = (dst[tris[:, i]] for i in range(3))  # (M, 2) each
    q0, q1, q2 = (src[tris[:, i]] for i in range(3))
    e1, e2 = p1 - p0, p2 - p0
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    flat = np.abs(det) < MIN_AREA2
    det = np.where(flat, 1.0, det)
    inv = np.stack([np.stack([e2[:, 1], -e2[:, 0]], 1),
                    np.stack([-e1[:, 1], e1[:, 0]], 1)], 1) / det[:, None, None]  # (M, 2, 2)
    f = np.stack([q1 - q0, q2 - q0], 2)  # (M, 2, 2): columns are source edges
    lin = np.where(flat[:, None, None], 0.0, f @ inv)  # (M, 2, 2)
    off = np.where(flat[:, None], (q0 + q1 + q2) / 3, q0 - np.einsum("mij,mj->mi", lin, p0))
    return np.concatenate([lin, off[:, :, None]], 2)


class MeshWarper:
    """Backward warp for a fixed triangle list and output size.

    size: output side in pixels; flow_scale: resolution of the rasterised map relative to it.
    """

    def __init__(self, tris: np.ndarray, size: int, flow_scale: float = 0.5) -> None:
        self.tris = tris
        self.size = size
        self.low = max(16, round(size * flow_scale))
        self.scale = self.low / size
        c = (np.arange(self.low, dtype=np.float32) + 0.5) / self.scale - 0.5
        self._gx, self._gy = (g.reshape(-1) for g in np.meshgrid(c, c))  # (L*L,) float32
        self._ids = np.zeros((self.low, self.low), np.int32)

    def flow(self, dst: np.ndarray, src: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Full-size (size, size, 2) float32 source coordinates for cv2.remap.

        dst, src: (V, 2) vertex positions in output and source pixels; depth: (V,) larger = farther.
        """
        ids = self._ids
        ids.fill(0)
        front = facing(dst, src, self.tris)
        far_first = np.argsort(-depth[self.tris].mean(1), kind="stable")
        order = np.concatenate([np.flatnonzero(~front), far_first[front[far_first]]])
        pts = np.round(dst[self.tris] * self.scale * (1 << SHIFT)).astype(np.int32)  # (M, 3, 2)
        fill = cv2.fillConvexPoly
        for t in order:
            fill(ids, pts[t], int(t), lineType=cv2.LINE_8, shift=SHIFT)
        # Six float32 gathers from a (6, M) table beat one (L*L, 2, 3) float64 gather + einsum.
        coef = affine_maps(dst, src, self.tris).reshape(-1, 6).T.astype(np.float32)  # (6, M)
        flat = ids.reshape(-1)
        a, b, c, d, e, f = (row[flat] for row in coef)
        xy = np.empty((self.low, self.low, 2), np.float32)
        xy[..., 0] = (a * self._gx + b * self._gy + c).reshape(self.low, self.low)
        xy[..., 1] = (d * self._gx + e * self._gy + f).reshape(self.low, self.low)
        return cv2.resize(xy, (self.size, self.size), interpolation=cv2.INTER_LINEAR)


def remap(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample `image` at `flow` (H, W, 2) float32 source coordinates, bilinear.

    One 2-channel map: given two strided planes OpenCV would copy them first.
    """
    return cv2.remap(image, flow, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
