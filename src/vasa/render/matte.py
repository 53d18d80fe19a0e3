"""Person / background separation of a portrait, made once per portrait (issue 13).

The renderer warps one mesh over the whole crop, so background next to the head is dragged
along with it, and where the head moves away it leaves a stretched copy of itself. With a matte,
the output is composed instead (`render.paste`): the warped person over a clean background
plate, so background pixels never move and what the head uncovers shows background.

No segmentation network is available offline here (MediaPipe's wheel carries no selfie
segmenter; nothing may download), so the matte is classical: GrabCut (Rother et al. 2004,
"GrabCut: interactive foreground extraction using iterated graph cuts") seeded by the face
landmarks the portrait already has, in the face's upright frame:
  sure person    - the face, a neck column under the chin;
  likely person  - a head ellipse (hair), a body that widens below the chin to the picture's edge;
  sure backdrop  - the picture's border away from that prior, and its top edge outside the
                   head ellipse barely grown (a close-up's grown prior reaches the top);
  likely backdrop - everything else.
The hard mask keeps the part joined to the face, gets soft edges from a guided filter (He et
al. 2010) on the picture, and is refused when it looks implausible (`check_mask`): the caller
then renders as without a matte. The plate is the picture with the person (grown a little)
filled from the nearest backdrop, blurred the more the deeper (`fill_background`), and, in the
band a turning head uncovers, the backdrop beside the hole reflected into it (`make_plate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vasa.latent import topology as topo

GRABCUT_PX = 320  # GrabCut runs at most this long side (its cost grows with pixels and edges)
GRABCUT_ITERS = 4
# Seed shapes, in face widths (the face oval's width) in the upright crop frame, from the oval.
HAIR_UP = 0.55  # the head ellipse reaches this far above the oval's top (hair, hats)
HEAD_WIDE = 1.45  # the head ellipse's width over the oval's
NECK_HALF = 0.22  # half width of the sure column from the chin down (neck, chest)
SHOULDER_Y = 0.55  # below the chin the likely body widens from the neck to...
BODY_HALF = 1.6  # ... this half width at 1.5 face widths below the chin, and on down
PRIOR_GROW = 0.6  # likely person: the head and body prior grown by this (face widths)
TOP_GROW = 0.15  # the top band is sure backdrop outside the head ellipse grown by this
HAIRLINE = 0.1  # sure person reaches this far above the oval's top
BORDER = 0.03  # width of the border band (share of the picture's long side)
MIN_BORDER = 0.2  # share of the band that must be sure backdrop, else the band outside the core
# Plausible person areas (share of the picture) and the share of the face it must hold.
MIN_AREA, MAX_AREA, MIN_FACE_IN = 0.04, 0.92, 0.97
# The face's surround: a ring SURROUND face widths wide outside the landmarks' hull, over the
# upper half of the face (forehead, temples: hair or skin, person either way). A matte that
# leaves most of it to the backdrop has cut the face out of its hair (dark hair on a dark
# backdrop: GrabCut cannot tell them apart); the head then slides over still hair and leaves
# the plate's flat fill where it was, a grey ghost of the head (Audrey: 0.35 of the ring;
# s3, whose hair is a shade off the wall: 0.54; the other 19 public portraits 0.77-1.0).
SURROUND, MIN_SURROUND = 0.08, 0.6
EDGE_RADIUS = 0.01  # guided filter radius (share of the long side): soft hair edges
EDGE_EPS = 1e-3
# The plate's hole: the mask grown by this share of the long side (1 px at 512). The picture
# itself still shows in the margin beside an uncovered patch, so a wider one made the plate
# continue the backdrop beyond it, not what lies next to the head: at 0.012 (6 px) a patch's
# edge stepped by 1.3 L* on average over 19 portraits at 20 degree turns, 6.2 on s8 and 2.7 on
# s4's dark painted halo, a light crescent; 0.7, 0.6 and 1.5 now (scripts/matte_report.py).
HOLE_GROW = 0.002
FILL_SOFTEN = 0.5  # the plate's fill is blurred over this share of its depth into the hole
# The reflected backdrop (`make_plate`) fills the hole to this depth, in face widths, fading
# into the soft fill from half of it (on LP s18's voice, the largest turns of the held-out
# voices, the deepest pixel a frame uncovers lies 0.16 face widths deep in half the frames,
# 0.28 at most, over 19 portraits; 8.6% of the uncovered pixels lie past half this reach,
# almost none past it: scripts/uncover_report.py), ...
MIRROR_REACH = 0.25
# ... along the nearest backdrop pixels smoothed over this many face widths: they jump along a
# ragged outline (hair), and reflected through the jumps the backdrop fell apart into rays
# (0.02: Aya's curls and Alex Lacamoire's drawn out into spokes round the hole).
MIRROR_SMOOTH = 0.04
MAX_STRETCH = 2.0  # nor where it draws the backdrop out to more than this many times its size


@dataclass
class PersonMatte:
    """alpha: (H, W) float32, 1 on the person (hair included), 0 on the backdrop, soft at the
    edge. plate: (H, W, 3) uint8, the picture with the person filled from the backdrop, equal
    to the picture outside `hole` (H, W) bool (the person grown by a few pixels)."""

    alpha: np.ndarray
    plate: np.ndarray
    hole: np.ndarray


def _to_picture(points: np.ndarray, to_crop: np.ndarray) -> np.ndarray:
    inv = cv2.invertAffineTransform(to_crop)
    return points @ inv[:, :2].T + inv[:, 2]


def seed_labels(shape: tuple[int, int], landmarks: np.ndarray, to_crop: np.ndarray) -> np.ndarray:
    """(H, W) uint8 GrabCut labels (cv2.GC_*) for a picture of `shape` whose face has
    `landmarks` (478, >=2) in the upright crop that `to_crop` (2, 3) cuts from it."""
    h, w = shape
    oval = landmarks[topo.FACE_OVAL, :2]
    fw = float(np.ptp(oval[:, 0]))
    cx = float(oval[:, 0].mean())
    top, chin = float(oval[:, 1].min()), float(oval[:, 1].max())
    # Crop units well past the picture's far edge, whatever the crop's scale.
    far = 4.0 * max(h, w) * abs(np.linalg.det(to_crop[:, :2])) ** 0.5

    def fill(label_map: np.ndarray, crop_pts: np.ndarray, value: int) -> None:
        pts = _to_picture(np.asarray(crop_pts, np.float64), to_crop)
        cv2.fillPoly(label_map, [np.round(pts).astype(np.int32)], value)

    def head(grow: float) -> np.ndarray:
        cy = (top - HAIR_UP * fw + chin) / 2
        axes = (HEAD_WIDE * fw / 2 + grow * fw, (chin - top + HAIR_UP * fw) / 2 + grow * fw)
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        return np.stack([cx + axes[0] * np.cos(t), cy + axes[1] * np.sin(t)], 1)

    def body(grow: float) -> np.ndarray:
        y0 = chin + (SHOULDER_Y - grow) * fw
        y1 = chin + 1.5 * fw
        half0, half1 = NECK_HALF * fw + grow * fw, (BODY_HALF + grow) * fw
        return np.array([[cx - half0, chin - 0.2 * fw], [cx + half0, chin - 0.2 * fw],
                         [cx + half0, y0], [cx + half1, y1], [cx + half1, chin + far],
                         [cx - half1, chin + far], [cx - half1, y1], [cx - half0, y0]])

    labels = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
    # Sure backdrop: the border band outside the grown prior. Within the prior everything starts
    # as likely person, so the backdrop's colour model comes from outside it: long hair that
    # falls past the head ellipse is not learnt as backdrop.
    fill(labels, head(PRIOR_GROW), cv2.GC_PR_FGD)
    fill(labels, body(PRIOR_GROW), cv2.GC_PR_FGD)
    # The border band: the top, and the sides down to the chin (below it long hair, shoulders
    # and arms reach the sides of most portraits, and one sure-backdrop pixel of hair teaches
    # the backdrop's colour model the hair).
    band = max(2, round(BORDER * max(h, w)))
    chin_y = int(np.clip(_to_picture(landmarks[topo.FACE_OVAL, :2], to_crop)[:, 1].max(), 0, h))
    edge = np.zeros((h, w), bool)
    edge[:band] = True
    edge[:chin_y, :band], edge[:chin_y, -band:] = True, True

    def outside(grow: float) -> np.ndarray:  # outside the head ellipse grown by `grow`, the body
        core = np.zeros((h, w), np.uint8)
        fill(core, head(grow), 1)
        fill(core, body(0.0), 1)
        return core == 0

    sure = edge & (labels == cv2.GC_PR_BGD)
    if sure.sum() < MIN_BORDER * edge.sum():  # a tight portrait: the prior fills the picture
        sure = edge & outside(0.0)
    # Above the head the grown prior reached the top edge on most close-ups, so a backdrop the
    # hair's shade there (AOC's dark drape, the door behind Alex Lacamoire) had no sure pixel
    # and went with the hair; the head ellipse already holds the hair's height (HAIR_UP).
    sure[:band] |= outside(TOP_GROW)[:band]
    labels[sure] = cv2.GC_BGD
    face = cv2.convexHull(landmarks[:, :2].astype(np.float32))[:, 0]
    fill(labels, face, cv2.GC_FGD)
    # The hairline just above the oval's top is hair or skin: person either way.
    fill(labels, np.array([[cx - 0.25 * fw, top + 0.05 * fw], [cx + 0.25 * fw, top + 0.05 * fw],
                           [cx + 0.2 * fw, top - HAIRLINE * fw],
                           [cx - 0.2 * fw, top - HAIRLINE * fw]]), cv2.GC_FGD)
    fill(labels, np.array([[cx - NECK_HALF * fw, chin - 0.2 * fw],
                           [cx + NECK_HALF * fw, chin - 0.2 * fw],
                           [cx + NECK_HALF * fw, chin + far], [cx - NECK_HALF * fw, chin + far]]),
         cv2.GC_FGD)
    return labels


def segment_person(picture: np.ndarray, landmarks: np.ndarray, to_crop: np.ndarray
                   ) -> np.ndarray:
    """(H, W) bool person mask of `picture` (H, W, 3) uint8 RGB, by GrabCut from
    `seed_labels`, kept to the part joined to the face, holes filled."""
    h, w = picture.shape[:2]
    k = min(1.0, GRABCUT_PX / max(h, w))
    small = cv2.resize(picture, (max(1, round(w * k)), max(1, round(h * k))),
                       interpolation=cv2.INTER_AREA) if k < 1 else picture
    # small pixel -> picture pixel ((s + 0.5) / k - 0.5) -> crop pixel
    crop_from_small = to_crop.copy()
    crop_from_small[:, :2] = to_crop[:, :2] / k
    crop_from_small[:, 2] += to_crop[:, :2] @ np.full(2, 0.5 / k - 0.5)
    labels = seed_labels(small.shape[:2], landmarks, crop_from_small)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    # GrabCut seeds its colour models by k-means from OpenCV's per-thread random generator:
    # seeded, the same portrait gets the same matte on any thread, after any other work.
    cv2.setRNGSeed(0)
    cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), labels, None, bgd, fgd, GRABCUT_ITERS,
                cv2.GC_INIT_WITH_MASK)
    person = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    # The part joined to the sure face: stray backdrop blobs of the person's colours go.
    _, comp = cv2.connectedComponents(person, connectivity=8)
    keep = np.unique(comp[(labels == cv2.GC_FGD) & (person > 0)])
    person = np.isin(comp, keep[keep > 0]).astype(np.uint8)
    # Fill holes: backdrop regions not reaching the picture's border (between an arm and the body).
    _, comp = cv2.connectedComponents(1 - person, connectivity=4)
    edge = np.unique(np.concatenate([comp[0], comp[-1], comp[:, 0], comp[:, -1]]))
    person[~np.isin(comp, edge) & (person == 0)] = 1
    if k < 1:
        person = cv2.resize(person * 255, (w, h), interpolation=cv2.INTER_LINEAR) > 127
    return person.astype(bool)


def check_mask(person: np.ndarray, landmarks: np.ndarray, to_crop: np.ndarray) -> str | None:
    """Why `person` (H, W) bool is not a plausible person mask for the face with `landmarks`
    in the crop, or None when it is."""
    area = float(person.mean())
    if not MIN_AREA <= area <= MAX_AREA:
        return f"person covers {area:.0%} of the picture (plausible: {MIN_AREA:.0%}-{MAX_AREA:.0%})"
    face = np.zeros(person.shape, np.uint8)
    hull = cv2.convexHull(_to_picture(landmarks[:, :2], to_crop).astype(np.float32))
    cv2.fillPoly(face, [np.round(hull[:, 0]).astype(np.int32)], 1)
    inside = float(person[face > 0].mean()) if face.any() else 0.0
    if inside < MIN_FACE_IN:
        return f"person holds {inside:.1%} of the face (at least {MIN_FACE_IN:.0%})"
    oval = _to_picture(landmarks[topo.FACE_OVAL, :2], to_crop)
    grow = max(3, round(2 * SURROUND * float(np.ptp(oval[:, 0])))) | 1  # `face_width`
    ring = cv2.dilate(face, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow))) > face
    ring[int(np.clip((oval[:, 1].min() + oval[:, 1].max()) / 2, 0, person.shape[0])):] = False
    surround = float(person[ring].mean()) if ring.any() else 1.0
    if surround < MIN_SURROUND:
        return (f"person holds {surround:.1%} of the face's surround, the hair and temples "
                f"(at least {MIN_SURROUND:.0%}): hair and backdrop look alike")
    return None


def soft_alpha(picture: np.ndarray, person: np.ndarray) -> np.ndarray:
    """(H, W) float32 alpha: the hard mask's edge aligned to the picture's by a guided filter."""
    r = max(2, round(EDGE_RADIUS * max(person.shape)))
    guide = cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    alpha = cv2.ximgproc.guidedFilter(guide, person.astype(np.float32), r, EDGE_EPS)
    return np.clip(alpha, 0.0, 1.0)


def _nearest(hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(depth, near) of each pixel of `hole` (H, W) bool: its distance to the nearest pixel
    outside the hole (H, W) float32, and that pixel's (x, y) (H, W, 2) float32."""
    depth, labels = cv2.distanceTransformWithLabels(hole.astype(np.uint8), cv2.DIST_L2, 5,
                                                    labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(~hole)
    at = np.zeros((int(labels.max()) + 1, 2), np.float32)
    at[labels[ys, xs]] = np.stack([xs, ys], 1)
    return depth, at[labels]


def fill_background(picture: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """`picture` (H, W, 3) uint8 with `hole` (H, W) bool filled from the nearest backdrop: each
    hole pixel takes the colour of the backdrop pixel nearest to it (a Voronoi fill), blurred
    over about FILL_SOFTEN of its depth (a pyramid: each pixel blends the two levels around
    the blur it wants). Beside the person the fill continues the backdrop just outside it;
    deeper, it is a smooth mix of the backdrop around. Push-pull (Gortler et al. 1996), which
    this replaces, averaged whatever its coarse cells held, so a head's surround took the
    colours under the shoulders: the astronaut's was the flag's red and the desk's black."""
    if not hole.any() or hole.all():
        return picture.copy()
    return _soft_fill(picture, hole, *_nearest(hole))


def _soft_fill(picture: np.ndarray, hole: np.ndarray, depth: np.ndarray, near: np.ndarray
               ) -> np.ndarray:
    """`fill_background` given the hole's `_nearest` depth and nearest backdrop pixels."""
    out = picture.copy()
    level = picture[near[..., 1].astype(np.intp), near[..., 0].astype(np.intp)]
    level = level.astype(np.float32)  # (H, W, 3): the nearest backdrop pixel's colour
    ys, xs = np.nonzero(hole)
    # Level k is blurred over about 2**k px: the two levels around log2 of the blur wanted.
    want = np.log2(np.maximum(FILL_SOFTEN * depth[ys, xs], 1.0))
    filled = np.zeros((len(ys), 3), np.float32)
    small, k = level, 0
    h, w = hole.shape
    while True:
        filled += np.clip(1.0 - np.abs(want - k), 0.0, 1.0)[:, None] * level[ys, xs]
        if min(small.shape[:2]) < 4 or k >= want.max():
            filled += np.clip(want - k, 0.0, 1.0)[:, None] * level[ys, xs]  # past the top
            break
        small, k = cv2.pyrDown(small), k + 1
        level = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    out[ys, xs] = np.clip(filled + 0.5, 0, 255).astype(np.uint8)
    return out


def person_matte(picture: np.ndarray, landmarks: np.ndarray, to_crop: np.ndarray
                 ) -> tuple[PersonMatte | None, str | None]:
    """The matte of `picture` (H, W, 3) uint8 RGB whose face has `landmarks` (478, >=2) in the
    crop `to_crop` (2, 3) cuts from it: (matte, None), or (None, why) when the mask found is not
    plausible (the renderer then works without one)."""
    person = segment_person(picture, landmarks, to_crop)
    why = check_mask(person, landmarks, to_crop)
    if why is not None:
        return None, why
    alpha = soft_alpha(picture, person)
    grow = 2 * max(1, round(HOLE_GROW * max(person.shape))) + 1
    hole = cv2.dilate((alpha > 0.02).astype(np.uint8), np.ones((grow, grow), np.uint8)) > 0
    return PersonMatte(alpha, make_plate(picture, hole, face_width(landmarks, to_crop)),
                       hole), None


def face_width(landmarks: np.ndarray, to_crop: np.ndarray) -> float:
    """The width (picture pixels) of the face oval of `landmarks` (crop pixels, `to_crop`)."""
    return float(np.ptp(_to_picture(landmarks[topo.FACE_OVAL, :2], to_crop)[:, 0]))


def make_plate(picture: np.ndarray, hole: np.ndarray, face_px: float) -> np.ndarray:
    """The backdrop plate: `picture` (H, W, 3) uint8 with `hole` (H, W) bool filled, beside a
    face `face_px` wide (its oval's width, pixels). The soft nearest-backdrop fill
    (`fill_background`) everywhere; over it, to MIRROR_REACH deep, the backdrop reflected
    across the hole's edge: a pixel d deep takes the backdrop pixel d outside, through its
    (smoothed) nearest backdrop pixel. What a turning head uncovers then continues the
    backdrop's texture (hair, a flag, canvas) and meets it without a seam, where a blur showed
    a smooth smudge beside the head. It replaces Telea's inpainting of that band (2004), which
    drew a textured backdrop (Aya's curls) as blocks of flat colour. Where the source lies in
    the hole or past the picture's edge, or the reflection draws the backdrop out past
    MAX_STRETCH, the soft fill stays."""
    if not hole.any() or hole.all():
        return picture.copy()
    depth, near = _nearest(hole)
    plate = _soft_fill(picture, hole, depth, near).astype(np.float32)
    h, w = hole.shape
    inside = hole.astype(np.float32)
    grid = np.dstack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))
    sigma = MIRROR_SMOOTH * face_px
    # The nearest backdrop pixels averaged over the hole's pixels only (the backdrop's own are
    # themselves): along a straight edge they are the same line, so the reflection stays exact
    # at the edge (averaged offsets would not: one-sided, they grow toward it).
    near = cv2.GaussianBlur(near * inside[..., None], (0, 0), sigma)
    near /= np.maximum(cv2.GaussianBlur(inside, (0, 0), sigma), 1e-3)[..., None]
    source = 2 * near - grid
    reflected = cv2.remap(picture, source, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    backdrop = cv2.remap(1 - inside, source, None, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    reach = MIRROR_REACH * face_px
    fade = np.clip(2 - 2 * depth / reach, 0.0, 1.0)  # 1 to half the reach, 0 at it
    # Deep in a round hole the reflection draws a short arc of backdrop out over a wide one (at
    # a straight edge it keeps lengths, at the centre of a disc it stretches without end), and
    # round a sharp bend of the outline (a hair bun) one way only: streaks, rays. The stretch is
    # the source map's largest singular value.
    (xy, xx), (yy, yx) = (np.gradient(source[..., i]) for i in (0, 1))  # (d/dy, d/dx) each
    total = xx * xx + xy * xy + yx * yx + yy * yy
    det = xx * yy - xy * yx
    stretch = np.sqrt(0.5 * (total + np.sqrt(np.maximum(total * total - 4 * det * det, 0.0))))
    fade *= np.clip((MAX_STRETCH - stretch) / (MAX_STRETCH - 1), 0.0, 1.0)
    weight = inside * fade * np.clip(2 * backdrop - 1, 0.0, 1.0)
    weight = (cv2.GaussianBlur(weight, (0, 0), 1.0) * inside)[..., None]
    plate += weight * (reflected - plate)
    return np.clip(plate + 0.5, 0, 255).astype(np.uint8)


__all__ = ["PersonMatte", "check_mask", "face_width", "fill_background", "make_plate",
           "person_matte", "seed_labels", "segment_person", "soft_alpha"]
