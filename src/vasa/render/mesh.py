"""The warp mesh: face landmarks plus anchor points for hair, neck and background.

Vertices, in this order:
  face    - a subset of the 468 mesh landmarks; they follow pose and dynamics;
  head    - two rings around the face oval (forehead, temples, hair) rigid with the skull;
  blend   - a wider ring that follows a share of the head's motion (hair ends, background);
  neck    - a ring below the jaw that follows a fraction of the head's translation only;
  fixed   - a wide ring and the frame border that never move: the background stays still.
Triangles come from a Delaunay triangulation of a frontal, open-mouthed arrangement, so the
topology is the same for every portrait and has triangles inside the mouth and the eyes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vasa.latent import topology as topo

HEAD_RING_SCALES = (1.15, 1.35)  # head ring radii, in units of the face oval around its centre
BLEND_RING_SCALE = 1.65  # between head and background: follows part of the head's motion, so
BLEND_FOLLOW = 0.35  # the background bends smoothly instead of with one kink per triangle
NECK_RING_SCALE = 1.25
FIXED_RING_SCALE = 2.1
NECK_FOLLOW = 0.35  # share of the head's translation that the neck anchors follow
JAW_Y = 0.55  # canonical y below which oval points count as jaw (their ring is neck, not hair)


@dataclass
class MeshLayout:
    """Which vertex rows are which. face: landmark indices of the face vertices (F,);
    head_canon, blend_canon, neck_canon, fixed_canon: (n, 3) anchors in the canonical frame."""

    face: np.ndarray
    head_canon: np.ndarray
    blend_canon: np.ndarray
    neck_canon: np.ndarray
    fixed_canon: np.ndarray
    num_border: int

    @property
    def num_vertices(self) -> int:
        return (len(self.face) + len(self.head_canon) + len(self.blend_canon)
                + len(self.neck_canon) + len(self.fixed_canon) + self.num_border)

    @property
    def slices(self) -> tuple[slice, ...]:
        """face, head, blend, neck, fixed, border rows of the vertex array."""
        sizes = (len(self.face), len(self.head_canon), len(self.blend_canon),
                 len(self.neck_canon), len(self.fixed_canon), self.num_border)
        ends = np.cumsum(sizes)
        return tuple(slice(int(e - n), int(e)) for e, n in zip(ends, sizes))


def make_layout(canonical: np.ndarray) -> MeshLayout:
    """Anchor rings built around a face's own canonical oval (478, 3)."""
    oval = canonical[topo.FACE_OVAL]
    centre = oval.mean(0)
    centre[2] = 0.0
    jaw = oval[:, 1] > JAW_Y
    head = [centre + (oval[~jaw] - centre) * s for s in HEAD_RING_SCALES]
    head_canon = np.concatenate(head)
    blend_canon = centre + (oval[~jaw][::2] - centre) * BLEND_RING_SCALE
    neck_canon = centre + (oval[jaw] - centre) * NECK_RING_SCALE
    fixed_canon = centre + (oval[::2] - centre) * FIXED_RING_SCALE
    fixed_canon[:, 2] = 0.0
    return MeshLayout(face=topo.mesh_points(), head_canon=head_canon, blend_canon=blend_canon,
                      neck_canon=neck_canon,
                      fixed_canon=fixed_canon, num_border=16)


def border_points(size: int, margin: float = 0.05) -> np.ndarray:
    """16 points on a square just outside the frame, so every pixel lies in some triangle."""
    lo, hi = -margin * size, (1 + margin) * size
    t = np.linspace(lo, hi, 5)[:-1]
    top = np.stack([t, np.full(4, lo)], 1)
    right = np.stack([np.full(4, hi), t], 1)
    bottom = np.stack([t[::-1] + (hi - lo) / 4, np.full(4, hi)], 1)
    left = np.stack([np.full(4, lo), t[::-1] + (hi - lo) / 4], 1)
    return np.concatenate([top, right, bottom, left]).astype(np.float64)


def open_mouth(canonical: np.ndarray, amount: float = 0.08) -> np.ndarray:
    """A copy with the jaw dropped, so Delaunay puts triangles inside the mouth.

    Everything below the lip line moves down together (only the inner lower lip alone would
    cross the outer lip line and fold the lower lip's triangles).
    """
    out = canonical.copy()
    line = 0.5 * (canonical[13, 1] + canonical[14, 1])
    below = canonical[:, 1] > line
    below[list(topo.LIPS_INNER_UPPER)] = False
    below[[61, 291, 78, 308]] = False  # mouth corners stay
    below[topo.LIPS_INNER_LOWER[1:-1]] = True
    out[below, 1] += amount
    return out


def triangulate(points: np.ndarray) -> np.ndarray:
    """Delaunay triangles (M, 3) of 2D points (V, 2), as vertex indices."""
    lo = points.min(0) - 10
    hi = points.max(0) + 10
    subdiv = cv2.Subdiv2D((float(lo[0]), float(lo[1]), float(hi[0] - lo[0]),
                           float(hi[1] - lo[1])))
    points = points.astype(np.float32)  # Subdiv2D stores float32: key on the same values
    index = {}
    for i, p in enumerate(points):
        subdiv.insert((float(p[0]), float(p[1])))
        index[(round(float(p[0]), 2), round(float(p[1]), 2))] = i
    tris = []
    for t in subdiv.getTriangleList():
        keys = [(round(float(t[j]), 2), round(float(t[j + 1]), 2)) for j in (0, 2, 4)]
        if all(k in index for k in keys):
            tris.append([index[k] for k in keys])
    return np.array(tris, np.int32)
