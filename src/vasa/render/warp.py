"""Piecewise-affine backward warp of an image by a triangle mesh, fast on a CPU.

For every output pixel we need the source pixel it shows. The target mesh is rasterised into a
triangle-index map at a reduced resolution; each pixel's source position is its triangle's affine
map applied to it. The mesh is a 3D surface (mesh.py): where the head turns, part of it faces
away from the camera (its screen winding reverses) and nearer surface covers it. Triangles that
do not keep their source winding (`mesh.facing`: turned over, or squeezed edge-on) are drawn
first, beneath all others, so they never show their source mirrored (a mesh whose source is
unfolded and whose border is fixed leaves no pixel to them: every point inside the border is
covered by one more triangle facing the camera than facing away); the rest are drawn far to
near, so the nearer surface wins where they overlap. Where the surface is one sheet the map is
continuous, so bilinear upsampling to full size is nearly exact; along an occlusion edge it
jumps, as it does across a strip squeezed thinner than the map's step (the skin under a turned
chin), and there each pixel takes its own triangle's map, as it does in the caller's `exact`
boxes (the lips: triangles of a few px^2), rasterised at full resolution. One cv2.remap
samples the image; the pixels along an occlusion edge are then anti-aliased (`Edges`): each
is the mean of samples at sub-pixel points over its footprint, each from the surface nearest
there, so an outline that crosses a pixel blends its two sides by the share each covers, as a
camera's pixel does, instead of a one-pixel staircase.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vasa.render.mesh import COLLAPSE, area_kept, signed_areas
from vasa.render.picture_edge import EdgeHold

SHIFT = 4  # sub-pixel bits for cv2.fillConvexPoly
MIN_AREA2 = 1e-2  # twice a target triangle's area (px^2) under which it is taken as flat
JUMP = 2.0  # source px: neighbouring map samples further apart than this are an edge, not a bend
TOUCH = 1e-3  # barycentric slack: a pixel on a shared edge belongs to both triangles
# A triangle keeping under this share of its source area may be thinner than a map cell: the
# map jumps across it as across an occlusion edge (the strip under a turned chin, squeezed to
# a twentieth between the jaw and the neck, drew a staircase of collar and skin specks along
# the chin at 25 degrees of yaw), so `flow` looks for torn cells around it too.
SQUEEZED = 0.3
THIN = 2.0  # map pixels: a squeezed triangle thinner than this may fall between the map's samples
SLIVER_AREA2 = 2.0  # twice a target triangle's area (px^2) under which exact boxes skip it
# An occlusion edge's pixels are each the mean of samples over the pixel's footprint in the
# portrait's own image: one output pixel, or, where the image was enlarged, one of its pixels
# (`Portrait.enlarged`), within MAX_FOOTPRINT. A camera's edge is that soft: cut sharp to the
# output pixel, a turned cheek's outline over an enlarged picture's hair looks cut out with
# scissors. The samples lie on a grid of half pixels (the pixel's 2 x 2 points, or 4 x 4 over
# two pixels, ...), rasterised like the map but at twice the resolution. Against the whole
# frame supersampled so, over every portrait's generated motion, the edge pixels' error fell
# from 4.0 to 0.7 grey levels and their specks (off by over 40) 24-fold, for 0.6 ms a frame
# (scripts/edge_report.py, benchmarks/results/edges.md).
MAX_FOOTPRINT = 3.0
REMAP_ROW = 256  # edge pixels per row of the map that samples them (`Edges.antialias`)
TILE_PX = 16  # side of the tiles that select the triangles an edge's samples may fall in


def footprint_taps(footprint: float) -> int:
    """Samples per axis (even) on the half-pixel grid over a square `footprint` output pixels
    wide, rounded, within 1..MAX_FOOTPRINT: 2 for one pixel, 4 for two, 6 for three."""
    return 2 * round(float(np.clip(footprint, 1.0, MAX_FOOTPRINT)))


# The map's side, at least: a 512 px crop's at the default 0.4. The default framing renders
# the face at its size in the picture (a 259 px crop for the bundled portrait), where a 0.4 map
# is 104 px and misses triangles of a few px^2; the neighbour's map carried across samples the
# wrong place (pixels off by over 30 grey levels against a full-resolution map, per frame of
# generated motion: bundled portrait 60 at 0.4, 9 at this floor; a 303 px crop 33 and 10). The
# lips, where that showed as dark specks, are rasterised at full resolution besides
# (`flow`'s exact boxes).
MIN_FLOW_PX = 205


def _inverse_edges(dst: np.ndarray, tris: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inv (M, 2, 2), p0 (M, 2), flat (M,)): for each target triangle, the inverse of its edge
    matrix [p1 - p0, p2 - p0] (pixel offset from p0 -> barycentric (b1, b2)), its first corner,
    and whether it is too flat to invert (its inverse is then zero)."""
    p0, p1, p2 = (dst[tris[:, i]] for i in range(3))  # (M, 2) each
    e1, e2 = p1 - p0, p2 - p0
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    flat = np.abs(det) < MIN_AREA2
    det = np.where(flat, 1.0, det)
    inv = np.stack([np.stack([e2[:, 1], -e2[:, 0]], 1),
                    np.stack([-e1[:, 1], e1[:, 0]], 1)], 1) / det[:, None, None]  # (M, 2, 2)
    return np.where(flat[:, None, None], 0.0, inv), p0, flat


def affine_maps(dst: np.ndarray, src: np.ndarray, tris: np.ndarray,
                dst_tris: np.ndarray | None = None) -> np.ndarray:
    """(M, 2, 3) affine maps taking each triangle's dst corners to its src corners.

    dst, src: (V, 2) vertex positions; tris: (M, 3) vertex indices; dst_tris: other corners in
    dst (M, 3) (None: `tris`), each mapped to its own row's corners in src. A target triangle of almost
    no area (a closed mouth opening, a shut eye) still rasterises as a line of pixels, and its
    inverse is near singular: it would sample far outside its source triangle (blocks of the
    suit's colour on a shut eye). It maps to its source centroid instead.
    """
    inv, p0, flat = _inverse_edges(dst, tris if dst_tris is None else dst_tris)
    q0, q1, q2 = (src[tris[:, i]] for i in range(3))
    f = np.stack([q1 - q0, q2 - q0], 2)  # (M, 2, 2): columns are source edges
    lin = f @ inv  # (M, 2, 2)
    off = np.where(flat[:, None], (q0 + q1 + q2) / 3, q0 - np.einsum("mij,mj->mi", lin, p0))
    return np.concatenate([lin, off[:, :, None]], 2)


def barycentric_maps(dst: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """(M, 2, 3) float32 affine maps from a pixel (x, y, 1) to its barycentric coordinates
    (b1, b2) in each target triangle (b0 = 1 - b1 - b2); a flat triangle contains nothing."""
    inv, p0, flat = _inverse_edges(dst, tris)
    out = np.concatenate([inv, -np.einsum("mij,mj->mi", inv, p0)[:, :, None]], 2)
    out[flat] = [[0.0, 0.0, -1.0], [0.0, 0.0, -1.0]]
    return out.astype(np.float32)


class MeshWarper:
    """Backward warp for a fixed triangle list and output size.

    size: output side in pixels; flow_scale: resolution of the rasterised map relative to it,
    but never under MIN_FLOW_PX (nor over the frame); footprint: the width, in output pixels,
    over which an occlusion edge's pixels are sampled (`footprint_taps`); None: they are not
    (sharp to the pixel; `edges` stays None). redrawn: (M,) bool, triangles drawn over later
    (the eyes' lids), not mapped exactly where they are squeezed thin.
    """

    def __init__(self, tris: np.ndarray, size: int, flow_scale: float = 0.5,
                 footprint: float | None = 1.0, redrawn: np.ndarray | None = None) -> None:
        self.tris = tris
        # Triangles another stage draws over (the eyelids, which a blink squeezes): where they
        # are squeezed the coarse map stands.
        self._checked = np.ones(len(tris), bool) if redrawn is None else ~redrawn
        self.taps = 0 if footprint is None else footprint_taps(footprint)
        self.size = size
        self.low = min(size, max(MIN_FLOW_PX, round(size * flow_scale)))
        self.scale = self.low / size
        c = (np.arange(self.low, dtype=np.float32) + 0.5) / self.scale - 0.5
        self._gx, self._gy = (g.reshape(-1) for g in np.meshgrid(c, c))  # (L*L,) float32
        self._ids = np.zeros((self.low, self.low), np.int32)
        # The full-size pixel rows (or columns) between map rows i and i + 1, the ones whose
        # bilinear upsampling reads those two rows: `count` of them from `first`.
        between = np.clip(np.floor((np.arange(size) + 0.5) * self.scale - 0.5), 0,
                          self.low - 2).astype(np.intp)
        self._first = np.searchsorted(between, np.arange(self.low - 1))
        self._count = np.bincount(between, minlength=self.low - 1)
        self.edge_pixels = 0  # full-size pixels the last flow computed exactly (instrumentation)
        self._edge_yx: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.intp),) * 2
        self.edges: Edges | None = None  # the last flow's occlusion-edge pixels, supersampled
        self.coef: np.ndarray | None = None  # (6, M) float32: the last flow's affine maps
        self.hold: EdgeHold | None = None  # the held edges (`pin`)
        self.hold_widths: np.ndarray | None = None  # the last flow's held band (`EdgeHold`)

    def pin(self, hold: EdgeHold | None) -> None:
        """From now on each pixel's source moves only a share of the way from the pixel itself
        to where the mesh puts it (and each occlusion-edge sample, by its pixel's share): 0 at
        the held edges, rising to 1 over a band as wide as the frame's motion away from them
        needs (`render.picture_edge.EdgeHold`); None: all the way. A framed portrait's renderer
        holds the picture's edges and the crop's so."""
        if hold is not None and hold.size != self.size:
            raise ValueError(f"a hold for {hold.size} px crops, this warper's are {self.size}")
        self.hold = hold
        self.hold_widths = None

    def held(self, points: np.ndarray, rest: np.ndarray, widths: np.ndarray | None
             ) -> np.ndarray:
        """Frame positions (N, 2+) of points at `rest` (N, 2+) in the source that the mesh
        moved to `points`, where the held map shows them (`pin`) with the band's `widths` (a
        flow's `hold_widths`): each moves its position's share of the way (to first order,
        where the map is locally a shift). Unchanged without a hold. Columns past the second
        (depth) are kept."""
        if self.hold is None:
            return points
        share = self.hold.at(points, widths)
        out = np.array(points, np.float64)
        out[:, :2] = rest[:, :2] + share * (points[:, :2] - rest[:, :2])
        return out

    @property
    def ids(self) -> np.ndarray:
        """(L, L) int32: the triangle drawn at each map pixel by the last `flow`."""
        return self._ids

    def flow(self, dst: np.ndarray, src: np.ndarray, depth: np.ndarray,
             exact: tuple[tuple[int, int, int, int], ...] = ()) -> np.ndarray:
        """Full-size (size, size, 2) float32 source coordinates for cv2.remap.

        dst, src: (V, 2) vertex positions in output and source pixels; depth: (V,) larger = farther.
        exact: boxes (x0, y0, x1, y1) in output pixels rasterised at full resolution instead
        (the lips: their triangles are a few px^2, under what a coarse map resolves).
        """
        ids = self._ids
        ids.fill(0)
        kept = area_kept(dst, src, self.tris)
        front = kept > COLLAPSE  # `mesh.facing`
        far_first = np.argsort(-depth[self.tris].mean(1), kind="stable")
        order = np.concatenate([np.flatnonzero(~front), far_first[front[far_first]]])
        # Map pixel i's centre is full-size coordinate (i + 0.5) / scale - 0.5 (see _gx).
        low = (dst[self.tris] + 0.5) * self.scale - 0.5
        _draw(ids, order, low[order])
        coef = affine_maps(dst, src, self.tris).reshape(-1, 6).T.astype(np.float32)  # (6, M)
        self.coef = coef
        out, xy, (a, b, _, d, e, _) = self._upsampled(coef, ids)
        self.edge_pixels = 0
        self.edges = None
        suspect = ~front
        squeezed = np.flatnonzero((kept < SQUEEZED) & front & self._checked)
        suspect[squeezed[_thickness(low[squeezed]) < THIN]] = True
        if suspect.any():  # a one-sheeted map, squeezed thin nowhere, has no jumps
            around = low[suspect].reshape(-1, 2)
            lo = np.clip(np.floor(around.min(0)) - 2, 0, self.low).astype(int)
            hi = np.clip(np.ceil(around.max(0)) + 3, 0, self.low).astype(int)
            window = np.s_[lo[1]:hi[1], lo[0]:hi[0]]
            cells = self._torn_cells(xy[window], tuple(x[window] for x in (a, b, d, e)))
            if cells.any():
                rank = np.empty(len(order), np.intp)
                rank[order] = np.arange(len(order))
                self._refine(out, cells, lo, dst, coef, rank)
        corners = dst[self.tris]
        t_lo, t_hi = corners.min(1), corners.max(1)  # (M, 2) each
        area2 = 2 * signed_areas(dst, self.tris)
        if self.edge_pixels and self.taps:
            self.edges = self._supersampled(order, area2, t_lo, t_hi, dst, coef)
        if exact and self.low < self.size:
            for box in exact:
                self._exact(out, box, order, area2, t_lo, t_hi, dst, coef)
        if self.edges is not None:  # a sub-pixel point no triangle took: its pixel's own source
            e = self.edges
            e.source[:] = np.where(np.isnan(e.source), out[e.y, e.x][:, None, None], e.source)
        if self.hold is not None:
            self.hold_widths = self.hold.widths(out)
            out = self.hold.apply(out, self.hold_widths)
            if self.edges is not None:  # each sample moves by its pixel's share from where it is
                e, n = self.edges, self.taps
                k = (np.arange(n, dtype=np.float32) - (n - 1) / 2) / 2
                at = np.stack(np.broadcast_arrays(e.x[:, None, None] + k[None, None, :],
                                                  e.y[:, None, None] + k[None, :, None]), -1)
                h = self.hold.at(np.stack([e.x, e.y], -1), self.hold_widths)
                h = h[:, 0, None, None, None].astype(np.float32)
                e.source[:] = at + h * (e.source - at)
        return out

    def _upsampled(self, coef: np.ndarray, ids: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
        """The full-size source map (S, S, 2) float32 of the triangle map `ids` (L, L) under
        per-triangle affine maps `coef` (6, M) float32, bilinearly upsampled; also the map
        (L, L, 2) and its six coefficient planes (L, L)."""
        xy, lin = self._map(coef, ids, np.s_[:, :])
        return cv2.resize(xy, (self.size, self.size), interpolation=cv2.INTER_LINEAR), xy, lin

    def _map(self, coef: np.ndarray, ids: np.ndarray, window: tuple
             ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """The source map (h, w, 2) float32 of a `window` of the triangle map `ids` (L, L)
        under per-triangle affine maps `coef` (6, M) float32, and its six coefficient planes."""
        # Six float32 gathers from a (6, M) table beat one (L*L, 2, 3) float64 gather + einsum.
        lin = tuple(coef[k][ids[window]] for k in range(6))  # a .. f, each (h, w)
        a, b, c, d, e, f = lin
        gx, gy = (g.reshape(self.low, self.low)[window] for g in (self._gx, self._gy))
        xy = np.empty(a.shape + (2,), np.float32)
        xy[..., 0] = a * gx + b * gy + c
        xy[..., 1] = d * gx + e * gy + f
        return xy, lin

    def box(self, x0: int, y0: int, x1: int, y1: int) -> MapBox:
        """The map pixels full-size box [x0, x1) x [y0, y1) reads, to upsample planes of the
        map (L, L, ...) into that box exactly as `flow`'s upsampling of the whole map would."""
        u = (np.arange(x0, x1, dtype=np.float32) + 0.5) * self.scale - 0.5
        v = (np.arange(y0, y1, dtype=np.float32) + 0.5) * self.scale - 0.5
        u, v = np.clip(u, 0, self.low - 1), np.clip(v, 0, self.low - 1)
        c0, r0 = int(u[0]), int(v[0])
        c1, r1 = min(int(u[-1]) + 2, self.low), min(int(v[-1]) + 2, self.low)
        mx, my = np.meshgrid(u - c0, v - r0)
        return MapBox(np.s_[r0:r1, c0:c1], np.s_[y0:y1, x0:x1], mx, my)

    def map_of(self, rows: np.ndarray, maps: np.ndarray, box: MapBox) -> np.ndarray:
        """The source map (h, w, 2) float32 of the full-size `box` under the last `flow`'s
        triangle map and affine maps, with triangles `rows` (K,) mapped by `maps` (K, 2, 3)
        instead: a second source for some triangles (render.reveal), without `flow`'s exact
        edges."""
        coef = self.coef.copy()
        coef[:, rows] = maps.reshape(-1, 6).T
        return box.upsample(self._map(coef, self._ids, box.low)[0], window=True)

    def _exact(self, out: np.ndarray, box: tuple[int, int, int, int], order: np.ndarray,
               area2: np.ndarray, t_lo: np.ndarray, t_hi: np.ndarray, dst: np.ndarray,
               coef: np.ndarray) -> None:
        """Source coordinates in `out`, in place, for the full-size pixels of `box`, each from
        its own triangle: the triangles there drawn in `flow`'s order into a full-resolution
        index map of the box alone (pixel centres on integer coordinates)."""
        x0, y0 = max(int(box[0]), 0), max(int(box[1]), 0)
        x1, y1 = min(int(box[2]), self.size), min(int(box[3]), self.size)
        if x1 <= x0 or y1 <= y0:
            return
        near = order[np.all((t_hi[order] >= (x0 - 1, y0 - 1)) & (t_lo[order] <= (x1, y1)), 1)]
        # Not the slivers: fillConvexPoly counts every pixel an edge touches, so a triangle of
        # under a pixel's area would own pixels whose centres lie outside it, where its
        # ill-conditioned map samples far away (a bright dot under a painting's nostril). Their
        # neighbours cover those pixels; any left uncovered keep the coarse map.
        near = near[np.abs(area2[near]) >= SLIVER_AREA2]
        ids = _index_map(near, dst[self.tris[near]] - (x0, y0), (y1 - y0, x1 - x0))
        hit = ids >= 0
        if not hit.any():
            return
        ys, xs = np.nonzero(hit)
        _apply_maps(out, ys + y0, xs + x0, ids[hit], coef)

    def _torn_cells(self, xy: np.ndarray, lin: tuple[np.ndarray, ...]) -> np.ndarray:
        """(h - 1, w - 1) bool: cells between 2 x 2 map pixels (a window of the map) across
        which the source coordinates jump (an occlusion edge: a near surface's triangles beside
        a far one's). Bilinear upsampling would blend the two sides' source positions inside
        such a cell: pixels from neither (a light rim along a jaw line).

        Only where a triangle faces away can one surface lie over another, and only across a
        squeezed triangle thinner than the map's step can one sheet jump between samples:
        `flow` looks in their bounding box. Where neighbours' triangles meet along an edge
        their maps agree on it, so each side's map, carried half a step towards the other,
        lands within JUMP of the other's."""
        a, b, d, e = lin
        h = 0.5 / self.scale  # half a map step, in full-size pixels
        jump_x = (np.abs(xy[:, :-1, 0] + h * a[:, :-1] - xy[:, 1:, 0] + h * a[:, 1:])
                  + np.abs(xy[:, :-1, 1] + h * d[:, :-1] - xy[:, 1:, 1] + h * d[:, 1:])) > JUMP
        jump_y = (np.abs(xy[:-1, :, 0] + h * b[:-1] - xy[1:, :, 0] + h * b[1:])
                  + np.abs(xy[:-1, :, 1] + h * e[:-1] - xy[1:, :, 1] + h * e[1:])) > JUMP
        return jump_x[:-1] | jump_x[1:] | jump_y[:, :-1] | jump_y[:, 1:]

    def _refine(self, out: np.ndarray, cells: np.ndarray, origin: np.ndarray, dst: np.ndarray,
                coef: np.ndarray, rank: np.ndarray) -> None:
        """Exact source coordinates in `out` (S, S, 2), in place, for the full-size pixels in
        torn `cells` (at map pixel `origin` (x, y)). Each takes the map of the triangle drawn
        last (`rank`: (M,) draw position) among its cell corners' triangles that contain it,
        so an occlusion edge is sharp to the pixel instead of a 2.5-pixel staircase. The
        pixels are kept for `_supersampled`."""
        i, j = np.nonzero(cells)
        i, j = i + origin[1], j + origin[0]
        k = np.arange(int(self._count.max()))
        ys = self._first[i, None] + k  # (n, span): the pixel rows between map rows i, i + 1
        xs = self._first[j, None] + k
        ok = (k < self._count[i, None])[:, :, None] & (k < self._count[j, None])[:, None, :]
        y = np.broadcast_to(ys[:, :, None], ok.shape)[ok]
        x = np.broadcast_to(xs[:, None, :], ok.shape)[ok]
        self.edge_pixels = len(y)
        self._edge_yx = y, x
        per_cell = ok.sum((1, 2))
        i, j = np.repeat(i, per_cell), np.repeat(j, per_cell)
        ids = self._ids
        cand = np.stack([ids[i, j], ids[i, j + 1], ids[i + 1, j], ids[i + 1, j + 1]], 1)
        xf, yf = x.astype(np.float32), y.astype(np.float32)
        bc = barycentric_maps(dst, self.tris)[cand]  # (P, 4, 2, 3): pixel -> (b1, b2)
        b1 = bc[..., 0, 0] * xf[:, None] + bc[..., 0, 1] * yf[:, None] + bc[..., 0, 2]
        b2 = bc[..., 1, 0] * xf[:, None] + bc[..., 1, 1] * yf[:, None] + bc[..., 1, 2]
        inside = (b1 >= -TOUCH) & (b2 >= -TOUCH) & (b1 + b2 <= 1 + TOUCH)
        score = np.where(inside, rank[cand], -1)
        best = cand[np.arange(len(cand)), score.argmax(1)]
        tid = np.where(score.max(1) >= 0, best, cand[:, 0])  # none: a sliver between them
        _apply_maps(out, y, x, tid, coef)

    def _supersampled(self, order: np.ndarray, area2: np.ndarray, t_lo: np.ndarray,
                      t_hi: np.ndarray, dst: np.ndarray, coef: np.ndarray) -> Edges:
        """The `_refine`d pixels' source positions at `taps` x `taps` points each, on a grid
        of half pixels: the triangles near them drawn in `flow`'s order into an index map of
        that grid (as `_exact` draws its boxes, at twice the resolution). A point no triangle
        took (between slivers) is NaN until `flow` gives it its pixel's source."""
        y, x = self._edge_yx
        n = self.taps
        # A footprint wider than a pixel reaches across the edge from pixels beside the torn
        # cells: they are sampled too.
        grow = int(np.ceil((n - 2) / 4))
        if grow:
            x0, y0 = int(x.min()) - grow, int(y.min()) - grow
            mask = np.zeros((int(y.max()) - y0 + grow + 1, int(x.max()) - x0 + grow + 1),
                            np.uint8)
            mask[y - y0, x - x0] = 1
            mask = cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
            y, x = np.nonzero(mask)
            keep = (y + y0 >= 0) & (y + y0 < self.size) & (x + x0 >= 0) & (x + x0 < self.size)
            y, x = y[keep] + y0, x[keep] + x0
        # Pixel p's samples: p + (k - (n - 1) / 2) / 2, k < n; grid point u at position
        # origin + (u - (n - 1) / 2) / 2, so that p's k-th sample is u = 2 (p - origin) + k.
        x0, y0 = int(x.min()), int(y.min())
        w, h = 2 * (int(x.max()) - x0) + n, 2 * (int(y.max()) - y0) + n
        # The triangles that may cover a sample: those whose bounding box meets a TILE_PX
        # tile holding an edge pixel (its samples reach under a pixel past it), found with a
        # summed-area table of the tiles (edges on both cheeks have a box the size of the face).
        ny, nx = (int(y.max()) - y0) // TILE_PX + 1, (int(x.max()) - x0) // TILE_PX + 1
        table = np.zeros((ny + 1, nx + 1), np.int32)
        table[(y - y0) // TILE_PX + 1, (x - x0) // TILE_PX + 1] = 1
        table = table.cumsum(0).cumsum(1)
        reach = (n - 1) / 4 + 1
        c0, r0 = np.floor((t_lo[order] - reach - (x0, y0)) / TILE_PX).astype(np.intp).T
        c1, r1 = np.floor((t_hi[order] + reach - (x0, y0)) / TILE_PX).astype(np.intp).T
        meets = (c1 >= 0) & (c0 < nx) & (r1 >= 0) & (r0 < ny)
        c0, c1 = np.clip(c0, 0, nx - 1), np.clip(c1, 0, nx - 1) + 1
        r0, r1 = np.clip(r0, 0, ny - 1), np.clip(r1, 0, ny - 1) + 1
        hits = table[r1, c1] - table[r0, c1] - table[r1, c0] + table[r0, c0]
        near = order[meets & (hits > 0)]
        near = near[np.abs(area2[near]) >= SLIVER_AREA2 / 4]  # (`_exact`'s slivers, at 2x)
        ids = _index_map(near, 2 * (dst[self.tris[near]] - (x0, y0)) + (n - 1) / 2, (h, w))
        k = np.arange(n)
        u = (2 * (x - x0))[:, None, None] + k[None, None, :]  # (P, 1, n)
        v = (2 * (y - y0))[:, None, None] + k[None, :, None]  # (P, n, 1)
        tid = ids[v, u]  # (P, n, n)
        px = (x0 + (u - (n - 1) / 2) / 2).astype(np.float32)
        py = (y0 + (v - (n - 1) / 2) / 2).astype(np.float32)
        source = _mapped(px, py, tid, coef)
        source[tid < 0] = np.nan
        return Edges(y, x, source)


@dataclass
class Edges:
    """The pixels (y, x: (P,) each) along the last flow's occlusion edges, and each one's
    source position at every point of its footprint's grid (P, n, n, 2) float32."""

    y: np.ndarray
    x: np.ndarray
    source: np.ndarray

    def antialias(self, frame: np.ndarray, image: np.ndarray) -> None:
        """Each edge pixel of `frame` (S, S[, C]) uint8, warped from `image` (the same
        channels), replaced in place by the mean of `image` at its footprint's sources."""
        p, n = self.source.shape[:2]
        # The samples laid out as n x n blocks, REMAP_ROW pixels' blocks a row (OpenCV's maps
        # are under 32767 points a side), so one INTER_AREA resize takes each block's mean.
        rows = -(-p // REMAP_ROW)
        blocks = np.zeros((rows * REMAP_ROW, n, n, 2), np.float32)
        blocks[:p] = self.source
        points = blocks.reshape(rows, REMAP_ROW, n, n, 2).transpose(0, 2, 1, 3, 4)
        samples = cv2.remap(image, points.reshape(rows * n, REMAP_ROW * n, 2), None,
                            cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        mean = cv2.resize(samples, (REMAP_ROW, rows), interpolation=cv2.INTER_AREA)
        frame[self.y, self.x] = mean.reshape((rows * REMAP_ROW,) + frame.shape[2:])[:p]


@dataclass
class MapBox:
    """A full-size box (`full`: its slice of the frame) and the map pixels (`low`: the slice
    of the (L, L) map) it reads; mx, my: (h, w) each pixel's position in that map window."""

    low: tuple
    full: tuple
    mx: np.ndarray
    my: np.ndarray

    def upsample(self, plane: np.ndarray, nearest: bool = False, window: bool = False
                 ) -> np.ndarray:
        """The box's pixels of a map plane (L, L, ...) float32 or uint8, bilinear (or nearest);
        window: `plane` is already the map's window (`low`)."""
        window = np.ascontiguousarray(plane if window else plane[self.low])
        return cv2.remap(window, self.mx, self.my,
                         cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)


def _thickness(corners: np.ndarray) -> np.ndarray:
    """(M,) each triangle's height over its longest side, for corners (M, 3, 2)."""
    sides = np.roll(corners, -1, 1) - corners
    longest = np.sqrt((sides ** 2).sum(2).max(1))
    cross = sides[:, 0, 0] * sides[:, 1, 1] - sides[:, 0, 1] * sides[:, 1, 0]
    return np.abs(cross) / np.maximum(longest, 1e-9)


def _index_map(tris: np.ndarray, corners: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) int32: the triangle drawn last at each pixel, -1 where none is: triangles `tris`
    (K,) drawn in that order, with corners (K, 3, 2) in this map's pixels (centres on
    integer coordinates)."""
    ids = np.full(shape, -1, np.int32)
    _draw(ids, tris, corners)
    return ids


def _draw(ids: np.ndarray, tris: np.ndarray, corners: np.ndarray) -> None:
    """Fill triangles `tris` (K,) into `ids` (h, w) int32 in that order, each with its own
    index, in place: corners (K, 3, 2) in the map's pixels (centres on integer coordinates)."""
    fixed = np.round(corners * (1 << SHIFT)).astype(np.int32)
    # One C call a triangle: Python ints and a list of views keep the loop's own cost low
    # (0.6 against 0.9-1.5 ms for the 600 triangles of a face, numpy scalars indexed per call).
    for t, q in zip(tris.tolist(), list(fixed)):
        cv2.fillConvexPoly(ids, q, t, cv2.LINE_8, SHIFT)


def _mapped(x: np.ndarray, y: np.ndarray, tid: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """(..., 2) float32 source positions of full-size points (x, y) (float32, broadcasting
    to `tid`'s shape) under their triangles' `tid` affine maps (`coef`: (6, M) rows a .. f)."""
    a, b, c, d, e, f = (row[tid] for row in coef)
    out = np.empty(tid.shape + (2,), np.float32)
    out[..., 0] = a * x + b * y + c
    out[..., 1] = d * x + e * y + f
    return out


def _apply_maps(out: np.ndarray, y: np.ndarray, x: np.ndarray, tid: np.ndarray,
                coef: np.ndarray) -> None:
    """out[y, x] = source position of full-size pixel (x, y) under triangle `tid`'s affine
    map (`coef`: (6, M) rows a .. f), in place."""
    out[y, x] = _mapped(x.astype(np.float32), y.astype(np.float32), tid, coef)


def remap(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample `image` at `flow` (H, W, 2) float32 source coordinates, bilinear.

    One 2-channel map: given two strided planes OpenCV would copy them first.
    """
    return cv2.remap(image, flow, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
