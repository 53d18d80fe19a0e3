"""The eye crop the eye refiner sees: one geometry for training pairs, training and rendering.

One band over both eyes, not one crop per eye: a blink closes both lids together and one
network call per frame is half the overhead of two. A similarity transform puts the midpoint of
the four eye corners at the band's centre, upright (the eye line horizontal) and at a fixed
scale (EYES_IOD outer-corner distances across), whatever the portrait's size or roll.

The target eye contours and irises, drawn into the band as two masks, tell the network where
the lids and the iris are to be; the paste mask is an ellipse per eye over both lids (the
upper lid's skin and crease come down over the eye in a blink), sized from that eye's width,
so it does not depend on how open the eye is and never jumps as a blink starts.
"""

from __future__ import annotations

import cv2
import numpy as np

from vasa.latent import topology as topo
from vasa.render.mouth_crop import (  # noqa: F401  (paste: any crop shape)
    EYE_CORNERS,
    grown,
    paste,
    upright_affine,
)

WIDTH, HEIGHT = 128, 64  # band size in pixels (the network's input); both multiples of 16
EYES_IOD = 1.6  # band width in outer-corner eye distances: both eyes, their corners and a margin
INNER_CORNERS = (133, 362)
# Points kept per sample, in order: both eye contours (closed polygons), then both irises
# (centre first, then four on the rim).
EYES = topo.RIGHT_EYE + topo.LEFT_EYE
IRISES = topo.IRIS_A + topo.IRIS_B
POINTS = EYES + IRISES
NUM_EYE = len(topo.RIGHT_EYE)
# The network's input channels, in order (refine.net and the runtime both build it this way).
CHANNELS = ("drawn R", "drawn G", "drawn B", "reference R", "reference G", "reference B",
            "eye openings", "irises")
# Lid ellipse per eye, in eye widths (corner to corner): centred this far above the corners'
# midpoint (the crease lies above the eye, the lower lid close under it), with these
# half-axes; feathered by FEATHER eye widths so the change fades out on skin.
LID_RAISE = 0.12
LID_AXES = (0.72, 0.5)
FEATHER = 0.1
# The pasted refinement keeps the frame's own detail (`detail_mask`) outside the eye openings
# grown by this many eye widths (the lash line and the squeezed lid lie just outside them),
# feathered by as much.
OPENING_GROW = 0.15
SHIFT = 4


def eye_affine(landmarks: np.ndarray) -> np.ndarray:
    """(2, 3) affine from frame pixels to the eye band, for (478, >=2) pixel landmarks."""
    return upright_affine(landmarks, EYE_CORNERS + INNER_CORNERS, (WIDTH, HEIGHT), EYES_IOD,
                          "eye_affine")


def crop(image: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """The (HEIGHT, WIDTH, 3) eye band of an (H, W, 3) uint8 frame."""
    return cv2.warpAffine(image, affine, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def eye_points(landmarks: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """(len(POINTS), 2) float32 eye contours and iris points in band pixels."""
    p = landmarks[POINTS, :2].astype(np.float64)
    return (p @ affine[:, :2].T + affine[:, 2]).astype(np.float32)


def _fill(polygons: list[np.ndarray]) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.fillPoly(mask, [np.round(p * (1 << SHIFT)).astype(np.int32) for p in polygons], 255,
                 cv2.LINE_AA, SHIFT)
    return mask


def eye_masks(points: np.ndarray) -> np.ndarray:
    """(2, HEIGHT, WIDTH) float32 in [0, 1]: inside the two eye openings; the irises (discs at
    the iris points' centre and mean radius) inside the openings. The network's picture of
    the target lids and gaze."""
    eyes = [points[:NUM_EYE], points[NUM_EYE:2 * NUM_EYE]]
    opening = _fill(eyes)
    irises = np.zeros_like(opening)
    for iris in (points[2 * NUM_EYE:2 * NUM_EYE + 5], points[2 * NUM_EYE + 5:]):
        r = float(np.linalg.norm(iris[1:] - iris[0], axis=1).mean())
        cv2.circle(irises, tuple(np.round(iris[0] * (1 << SHIFT)).astype(int)),
                   round(r * (1 << SHIFT)), 255, -1, cv2.LINE_AA, SHIFT)
    irises = np.minimum(irises, opening)
    return np.stack([opening, irises]).astype(np.float32) / 255


def detail_mask(points: np.ndarray, rest: np.ndarray | None = None) -> np.ndarray:
    """(HEIGHT, WIDTH) float32 in [0, 1]: where a pasted refinement keeps the frame's own
    detail (`mouth_crop.paste`'s `keep`): everywhere but the eye openings, the target's
    `points` and, with `rest` (the same eyes at the portrait's openness, POINTS-ordered band
    pixels), the open eye a closing lid now covers, grown by OPENING_GROW eye widths and
    feathered. The band spans 1.6 outer-corner distances in 128 px, so a face whose eyes are
    over 80 px apart is sampled down into it; the brows, the crease and the skin round the eyes
    then keep the frame's grain and lines instead of a blurred copy. Inside the openings a
    blink's lid skin and lashes are the network's to draw, and the frame's detail there is
    the squeezed lash line it replaces."""
    polygons = [points[k * NUM_EYE:(k + 1) * NUM_EYE] for k in range(2)]
    if rest is not None:
        polygons += [rest[k * NUM_EYE:(k + 1) * NUM_EYE] for k in range(2)]
    width = float(np.mean([np.hypot(*(e[NUM_EYE // 2] - e[0])) for e in polygons[:2]]))
    return 1.0 - grown(_fill(polygons), max(3, round(OPENING_GROW * width)) | 1)


def lid_ellipses(points: np.ndarray) -> list[tuple[np.ndarray, tuple[float, float], float]]:
    """Per eye (centre (2,), half-axes (a, b), angle in degrees) of the lids' region, from the
    eye's corners in any pixel frame: `points` are POINTS-ordered (len(POINTS), 2)."""
    out = []
    for k in range(2):
        eye = points[k * NUM_EYE:(k + 1) * NUM_EYE]
        a, b = eye[0].astype(np.float64), eye[NUM_EYE // 2].astype(np.float64)  # the corners
        width = max(float(np.hypot(*(b - a))), 1e-3)
        along = (b - a) / width
        if along[0] < 0:  # measure the angle left to right, "up" is then (+y) x along
            along = -along
        up = np.array([along[1], -along[0]])
        centre = 0.5 * (a + b) + LID_RAISE * width * up
        angle = float(np.degrees(np.arctan2(along[1], along[0])))
        out.append((centre, (LID_AXES[0] * width, LID_AXES[1] * width), angle))
    return out


def paste_mask(points: np.ndarray) -> np.ndarray:
    """(HEIGHT, WIDTH) float32 in [0, 1]: where refined pixels replace the drawn eyes. One
    feathered ellipse per eye over both lids (`lid_ellipses`)."""
    mask = np.zeros((HEIGHT, WIDTH), np.float32)
    widths = []
    for centre, axes, angle in lid_ellipses(points):
        cv2.ellipse(mask, tuple(np.round(centre * (1 << SHIFT)).astype(int)),
                    tuple(np.round(np.multiply(axes, 1 << SHIFT)).astype(int)), angle, 0, 360,
                    1.0, -1, cv2.LINE_AA, SHIFT)
        widths.append(axes[0] / LID_AXES[0])
    sigma = max(1.0, FEATHER * float(np.mean(widths)))
    return cv2.GaussianBlur(mask, (0, 0), sigma)
