"""The warp mesh: face landmarks plus anchor points for hair, neck and background, in 3D.

Vertices, in this order:
  face    - a subset of the 468 mesh landmarks; they follow pose and dynamics;
  head    - two rings around the face oval (forehead, temples, hair, ears), rigid with the skull
            and moved in 3D with the pose; each lies HEAD_DEPTH behind where it is seen;
  blend   - a wider ring that follows a share of the outer head ring's motion on its ray (hair
            ends, background): the displacement falls off along each ray from the face;
  neck    - a ring below the jaw, behind it, that follows a share of its jaw point's motion
            (rotation, translation and jaw drop alike), between the head and the shoulders;
  fixed   - a wide ring and the frame border that never move: the background stays still.
Rings are drawn in the image around the face's visible outline (`anchor_rest`), so they nest
in any portrait, turned or not. Triangles come from a Delaunay triangulation of a frontal,
open-mouthed arrangement, so the topology is the same for every portrait, every triangle has a
positive `signed_areas` in that arrangement (the winding of a triangle facing the camera), and
there are triangles inside the mouth and the eyes.

Every vertex carries a depth, so the mesh is a 3D surface seen by an orthographic camera: where
the head turns, a region of it faces away (its screen winding reverses) and nearer surface
covers it (the far cheek behind the nose, the chin in front of the neck). The warp draws what
faces away beneath everything and the rest far to near (warp.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vasa.latent import topology as topo

HEAD_RING_SCALES = (1.15, 1.35)  # head ring radii, in units of the face oval around its centre
# Depth behind the oval (canonical units, eye distance 1) per unit of ring scale beyond it (the
# rings lie 0.15 and 0.35 behind): the skull recedes from the face outline (ears and the hair
# over them lie behind the oval's sides), so under yaw the far side turns behind the cheek and
# the near side opens up. 2.0 swelled a near ear to twice its size at 25 degrees; 0.3 hardly
# turned the hair at all.
HEAD_DEPTH = 1.0
BLEND_RING_SCALE = 1.65  # between head and background: follows part of the head's motion, so
BLEND_FOLLOW = 0.35  # the background bends smoothly instead of with one kink per triangle
NECK_RING_SCALE = 1.25
NECK_DEPTH = 0.8  # the throat lies this far behind the jaw line: the chin passes in front of it
NECK_FOLLOW = 0.5  # share of its jaw point's motion with the head a neck anchor follows
# ... and of its jaw point's drop in speech (the face's dynamics, the pose held). A speaker's
# collar does not bob with the jaw: the skin under the chin stretches and the chin passes in
# front of the throat. At 0.5, as for the head's motion, a held-out speaker's jaw moved the
# body under the chin by 1.6-4.1 px (512 px crop, scripts/collar_report.py).
NECK_DROP = 0.15
NECK_TIE = 3  # neck anchors this many from an end of the jaw move with the head ring's end
FIXED_RING_SCALE = 2.1
JAW_Y = 0.55  # canonical y below which oval points count as jaw (their ring is neck, not hair)
NUM_BORDER = 16


@dataclass
class MeshLayout:
    """Which vertex rows are which. face: landmark indices of the face vertices (F,); upper,
    jaw: rows of `face` holding the oval above / below the jaw line, in oval order (U,), (J,);
    fixed_from: rows of `face` the fixed ring is drawn from (K,). The head rings come from
    `upper` (2U anchors, inner ring first), the blend ring from every second of them, the neck
    ring from `jaw`. neck_side: (J,) the outer head-ring anchor (row within the head rings)
    next to each neck anchor's end of the jaw; neck_tie: (J,) how much of that anchor's motion
    it takes (1 at the ends, 0 from NECK_TIE anchors in), so the neck joins the head rings
    without a seam."""

    face: np.ndarray
    upper: np.ndarray
    jaw: np.ndarray
    fixed_from: np.ndarray
    neck_side: np.ndarray
    neck_tie: np.ndarray
    num_border: int = NUM_BORDER

    @property
    def blend_head(self) -> np.ndarray:
        """(B,) the outer head-ring anchor (row within the head rings) on each blend ray."""
        return len(self.upper) + np.arange(0, len(self.upper), 2)

    @property
    def num_vertices(self) -> int:
        return self.slices[-1].stop

    @property
    def slices(self) -> tuple[slice, ...]:
        """face, head, blend, neck, fixed, border rows of the vertex array."""
        sizes = (len(self.face), len(HEAD_RING_SCALES) * len(self.upper),
                 len(self.blend_head), len(self.jaw), len(self.fixed_from), self.num_border)
        ends = np.cumsum(sizes)
        return tuple(slice(int(e - n), int(e)) for e, n in zip(ends, sizes))

    def landmark_of(self) -> np.ndarray:
        """(V,) the landmark index of each vertex, -1 for anchors."""
        out = np.full(self.num_vertices, -1)
        out[self.slices[0]] = self.face
        return out


def make_layout(canonical: np.ndarray) -> MeshLayout:
    """The layout for a face's own canonical shape (478, 3) (which oval points are jaw)."""
    face = topo.mesh_points()
    oval = np.searchsorted(face, topo.FACE_OVAL)
    jaw = canonical[topo.FACE_OVAL, 1] > JAW_Y
    at = np.flatnonzero(jaw)  # positions along the oval (a loop starting at the forehead)
    if len(at) < 2 or np.any(np.diff(at) != 1) or at[0] == 0 or at[-1] == len(oval) - 1:
        raise ValueError(f"the face oval's jaw (y > {JAW_Y}) is not one run below the temples: "
                         "not a face shape")
    # The outer ring's anchors next to the jaw's two ends: the oval points just outside them.
    upper_at = np.flatnonzero(~jaw)
    ends = len(upper_at) + np.searchsorted(upper_at, [at[0] - 1, at[-1] + 1])
    k = np.arange(len(at))
    from_end = np.minimum(k, len(at) - 1 - k)
    return MeshLayout(face=face, upper=oval[~jaw], jaw=oval[jaw], fixed_from=oval[::2],
                      neck_side=np.where(k <= len(at) - 1 - k, ends[0], ends[1]),
                      neck_tie=np.clip(1 - from_end / NECK_TIE, 0, 1) ** 2)


def anchor_rest(layout: MeshLayout, face_xy: np.ndarray) -> np.ndarray:
    """(A, 2) image positions of the head, blend, neck and fixed anchors (in that order) around
    the face vertices' oval (face_xy: (F, 2)): rays from the oval's centre, scaled."""
    oval = face_xy[np.concatenate([layout.upper, layout.jaw])]
    centre = oval.mean(0)

    def ring(rows: np.ndarray, scale: float) -> np.ndarray:
        return centre + (face_xy[rows] - centre) * scale

    head = [ring(layout.upper, s) for s in HEAD_RING_SCALES]
    return np.concatenate(head + [ring(layout.upper[::2], BLEND_RING_SCALE),
                                  ring(layout.jaw, NECK_RING_SCALE),
                                  ring(layout.fixed_from, FIXED_RING_SCALE)])


# MediaPipe's face oval lies on the silhouette or a few pixels past it (on the hair, an ear,
# the backdrop). Above the jaw the outline is drawn this share of each ray inside, so the face's
# triangles hold skin: the far cheek's band, magnified when the head turns it into view,
# otherwise pulls that hair across the cheek (Audrey at 15-25 degrees: a dark notch at ear
# level). Not along the jaw, which speech moves: there the strip inside would follow the neck,
# not the chin (self-reenactment of LP s18: face PSNR 28.66 -> 27.93 dB with the jaw inset too).
OUTLINE_INSET = 0.03


def outline(face_xy: np.ndarray, rows: np.ndarray, inset: float | np.ndarray = 0.0
            ) -> np.ndarray:
    """(n, 2) the oval points `rows` of face_xy (F, 2), each moved out along its ray from the
    oval's centre to the convex hull of all the face points if it lies inside: in a turned
    portrait the far side of the oval is hidden behind the cheek, and the rings must start at
    the outline one can see, not on the cheek's pixels. Each is then drawn `inset` (a share,
    one or (n,) per point) of its distance in."""
    pts = face_xy[rows]
    centre = pts.mean(0)
    hull = cv2.convexHull(face_xy.astype(np.float32))[:, 0].astype(np.float64)  # (H, 2)
    edge = np.roll(hull, -1, 0) - hull
    normal = np.stack([edge[:, 1], -edge[:, 0]], 1)  # (H, 2), outward or inward for all
    offset = ((hull - centre) * normal).sum(1)  # > 0 for outward normals: the centre is inside
    normal *= np.sign(offset.sum())
    offset *= np.sign(offset.sum())
    ray = pts - centre
    dist = np.linalg.norm(ray, axis=1)
    ray /= dist[:, None]
    toward = ray @ normal.T  # (n, H): > 0 for the edges a ray leaves through
    reach = np.where(toward > 1e-12, offset / np.maximum(toward, 1e-12), np.inf).min(1)
    out = np.maximum(dist, np.where(np.isfinite(reach), reach, dist)) * (1 - inset)
    return centre + ray * out[:, None]


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


# A triangle keeping under this share of its source area is seen edge-on: like one facing away
# it lies beneath the surface in front (its pixels, squeezed 50x, would be a crease).
COLLAPSE = 0.02
MIN_SOURCE_AREA = 0.5  # px^2: a source triangle smaller than this has no winding to keep


def area_kept(dst: np.ndarray, src: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """(M,) each triangle's signed area in `dst` (V, 2) over its area in `src` (V, 2): 1
    unchanged, under 0 turned over. A source triangle of no area (closed lips, a shut eye) has
    no winding to keep: +inf where it opens the way the topology's frontal arrangement does,
    -inf where it does not (0 while it stays shut)."""
    a_src, a_dst = signed_areas(src, tris), signed_areas(dst, tris)
    oriented = np.abs(a_src) >= MIN_SOURCE_AREA
    shut = np.where(a_dst > 0, np.inf, np.where(a_dst < 0, -np.inf, 0.0))
    return np.where(oriented, a_dst / np.where(oriented, a_src, 1.0), shut)


def facing(dst: np.ndarray, src: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """(M,) bool: triangles that keep their source winding in `dst` (V, 2), and at least
    COLLAPSE of their source area, against `src` (V, 2) (`area_kept`): their texture is not
    seen mirrored or edge-on. A source triangle of no area faces the camera whenever it opens
    the way the topology's frontal arrangement does."""
    return area_kept(dst, src, tris) > COLLAPSE


def signed_areas(xy: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """(M,) signed areas (px^2) of triangles (M, 3) over vertices (V, 2+): positive for the
    winding of the topology's frontal arrangement (clockwise in x right, y down)."""
    a, b, c = (xy[tris[:, i], :2] for i in range(3))
    e1, e2 = b - a, c - a
    return 0.5 * (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])


def triangulate(points: np.ndarray) -> np.ndarray:
    """Delaunay triangles (M, 3) of 2D points (V, 2), as vertex indices, all with positive
    `signed_areas` (the winding every frame's triangles are compared against)."""
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
    tris = np.array(tris, np.int32)
    back = signed_areas(points, tris) < 0
    tris[back] = tris[back][:, ::-1]
    return tris


def opening_triangles(tris: np.ndarray, landmark_of: np.ndarray) -> np.ndarray:
    """(M,) bool: triangles inside an eye or the mouth (all corners on one eye contour or on the
    inner-lip contour). Their area legitimately goes to zero (a blink, closed lips) and the
    renderer paints over them. landmark_of: (V,) landmark index per vertex, -1 for anchors."""
    out = np.zeros(len(tris), bool)
    for contour in (topo.RIGHT_EYE, topo.LEFT_EYE, topo.LIPS_INNER):
        out |= np.isin(landmark_of, contour)[tris].all(1)
    return out


UNFOLD_AREA = 0.5  # px^2: the least area an unfolded source triangle keeps (a sliver)
UNFOLD_ITERS = 40


def _kernel_point(p: np.ndarray, normals: np.ndarray, offsets: np.ndarray) -> np.ndarray | None:
    """The point nearest `p` (2,) with normals @ x >= offsets (k half-planes), or None if they
    have no common point. Candidates: p, its projections onto each line, pairwise crossings."""
    unit = normals / np.linalg.norm(normals, axis=1, keepdims=True)
    off = offsets / np.linalg.norm(normals, axis=1)
    cands = [p[None], p - (unit @ p - off)[:, None] * unit]
    i, j = np.triu_indices(len(unit), 1)
    det = unit[i, 0] * unit[j, 1] - unit[i, 1] * unit[j, 0]
    ok = np.abs(det) > 1e-9
    i, j, det = i[ok], j[ok], det[ok]
    cands.append(np.stack([(off[i] * unit[j, 1] - off[j] * unit[i, 1]) / det,
                           (unit[i, 0] * off[j] - unit[j, 0] * off[i]) / det], 1))
    cands = np.concatenate(cands)
    feasible = np.all(cands @ unit.T >= off - 1e-6, 1)
    if not feasible.any():
        return None
    cands = cands[feasible]
    return cands[np.argmin(((cands - p) ** 2).sum(1))]


def unfold(src: np.ndarray, depth: np.ndarray, tris: np.ndarray, skip: np.ndarray,
           movable: np.ndarray) -> np.ndarray:
    """Source positions (V, 2) with no triangle facing away, for a portrait that shows some of
    its mesh from behind (a turned face: the far cheek and oval behind the cheekbone, the far
    side of the nose; a raised chin: the skin under the nose tip). Such a triangle has no pixels
    of its own in the portrait: it overlaps visible ones, and turned towards the camera it would
    show their pixels mirrored (a three-quarter face torn into strips). The farthest movable
    corner of each, the hidden one, moves the least distance that gives every triangle around
    it at least UNFOLD_AREA: to the visible outline, where the triangle becomes a sliver whose
    pixels it stretches when the face turns back, and the ring beyond starts at the outline.

    src: (V, 2) projected source vertices; depth: (V,) larger = farther; tris: (M, 3);
    skip: (M,) triangles left as they are (eyes and mouth, closed in many portraits);
    movable: (V,) bool, vertices that may move (not the frame border).
    """
    out = src.copy()
    counted = tris[~skip]

    def kernel_point(v: int) -> np.ndarray | None:
        ring = counted[(counted == v).any(1)]
        k = np.argmax(ring == v, 1)  # each triangle read as (v, a, b)
        a = out[ring[np.arange(len(ring)), (k + 1) % 3]]
        b = out[ring[np.arange(len(ring)), (k + 2) % 3]]
        e = b - a
        normals = np.stack([-e[:, 1], e[:, 0]], 1)  # area(v, a, b) = normals @ v - ... / 2
        return _kernel_point(out[v], normals, (normals * a).sum(1) + 2 * UNFOLD_AREA)

    for _ in range(UNFOLD_ITERS):
        bad = np.flatnonzero(signed_areas(out, counted) < UNFOLD_AREA)
        if len(bad) == 0:
            break
        for t in bad:
            if signed_areas(out, counted[t:t + 1])[0] >= UNFOLD_AREA:
                continue  # mended by a neighbour's move
            corners = counted[t][np.argsort(-depth[counted[t]])]  # the hidden one first
            for v in corners[movable[corners]]:
                target = kernel_point(int(v))
                if target is not None:
                    out[v] = target
                    break
    return out
