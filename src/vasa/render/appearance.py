"""What the renderer precomputes once per portrait: an eye-free source image, iris sprites and
the colours used to synthesise what the portrait does not show (mouth interior, eyelids)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vasa.latent import topology as topo


@dataclass
class IrisSprite:
    """An iris (and pupil) to paste inside an eye. rgba: (h, w, 4) float32 0..1 with straight
    alpha; centre: (x, y) of the iris centre inside the sprite; radius: iris radius in pixels."""

    rgba: np.ndarray
    centre: np.ndarray
    radius: float


@dataclass
class Appearance:
    """image: (S, S, 3) uint8 portrait with the irises painted out (the warp source).
    irises: right and left sprites. lids: upper-eyelid skin colours (right, left). lip, skin,
    teeth, cavity, tongue: RGB float32 colours."""

    image: np.ndarray
    irises: tuple[IrisSprite | None, IrisSprite | None]  # None: the eye is shut in the portrait
    lids: tuple[np.ndarray, np.ndarray]  # upper-eyelid skin colour, right and left eye: the
    # drawn lid's where no skin round the eye is in the frame (render.eyes)
    lip: np.ndarray
    skin: np.ndarray
    teeth: np.ndarray
    cavity: np.ndarray
    tongue: np.ndarray


def region_box(points: np.ndarray, shape: tuple[int, ...], pad: int
               ) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) around 2D points (n, 2) with `pad` pixels, clipped to a frame of
    `shape`; None when too little of it is inside to paint."""
    x0, y0 = np.floor(points.min(0)).astype(int) - pad
    x1, y1 = np.ceil(points.max(0)).astype(int) + pad + 1
    h, w = shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    return (x0, y0, x1, y1) if x1 - x0 >= 3 and y1 - y0 >= 3 else None


def _poly_mask(shape: tuple[int, int], pts: np.ndarray) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(pts[:, :2]).astype(np.int32)], 255)
    return m


def _median_colour(image: np.ndarray, mask: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    px = image[mask > 0]
    return np.median(px, 0).astype(np.float32) if len(px) >= 8 else fallback.astype(np.float32)


MIN_VISIBLE = 0.15  # share of the iris disc that must show for the eye to count as open


def _iris_sprite(image: np.ndarray, lm: np.ndarray, iris: np.ndarray, eye: list[int],
                 eye_mask: np.ndarray) -> IrisSprite | None:
    """A complete iris disc: the visible iris pixels, completed where the lids hide it by a
    synthetic iris in their median colour with a pupil and a darker limbal ring. None when the
    eye is shut in the portrait (under MIN_VISIBLE of the disc shows): there is no iris to take,
    and a disc coloured from lid skin painted orange blots on the face."""
    centre = lm[iris[0], :2]
    radius = float(np.mean(np.linalg.norm(lm[iris[1:], :2] - centre, axis=1)))
    radius = max(radius, 2.0)
    half = int(np.ceil(radius * 1.3)) + 2
    x0, y0 = round(centre[0]) - half, round(centre[1]) - half
    n = 2 * half + 1
    patch = cv2.getRectSubPix(image, (n, n), (x0 + half, y0 + half)).astype(np.float32) / 255
    vis = cv2.getRectSubPix(eye_mask, (n, n), (x0 + half, y0 + half)).astype(np.float32) / 255
    c = centre - np.array([x0, y0], np.float32)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    r = np.hypot(xx - c[0], yy - c[1])
    disc = np.clip(radius + 0.5 - r, 0, 1)
    seen = vis * disc
    if seen.sum() < MIN_VISIBLE * disc.sum():
        return None
    colour = (patch * seen[..., None]).sum((0, 1)) / max(seen.sum(), 1e-3)
    synth = colour * (0.75 + 0.25 * np.clip(r / radius, 0, 1))[..., None]  # darker rim
    synth *= (1 - 0.7 * np.clip(1.5 - r / (0.4 * radius), 0, 1))[..., None]  # pupil
    rgb = seen[..., None] * patch + (1 - seen[..., None]) * synth
    return IrisSprite(np.concatenate([rgb, disc[..., None]], 2), c, radius)


def _lid_colour(image: np.ndarray, lm: np.ndarray, upper: list[int], eye_mask: np.ndarray,
                skin: np.ndarray) -> np.ndarray:
    """The upper eyelid's skin: a band above the lid, as deep as a fifth of the eye's width
    (below the brow), its brighter half (the crease and lashes are dark), mixed with the face's
    skin: a shut lid catches the light the open eye's socket shadow does not."""
    pts = lm[upper, :2]
    width = float(np.ptp(pts[:, 0]))
    lift = max(2.0, 0.22 * width)
    band = np.concatenate([pts - [0, 0.08 * width], (pts - [0, lift])[::-1]])
    mask = cv2.subtract(_poly_mask(image.shape[:2], band), eye_mask)
    px = image[mask > 0].astype(np.float32)
    if len(px) < 8:
        return skin.astype(np.float32)
    band_colour = np.median(px[px.mean(1) >= np.percentile(px.mean(1), 50)], 0)
    return (0.5 * band_colour + 0.5 * skin).astype(np.float32)


def build_appearance(image: np.ndarray, lm: np.ndarray, iris_right: np.ndarray,
                     iris_left: np.ndarray) -> Appearance:
    """Precompute the appearance of a portrait (image (S, S, 3) uint8, landmarks (478, 3))."""
    shape = image.shape[:2]
    eyes = [_poly_mask(shape, lm[topo.RIGHT_EYE]), _poly_mask(shape, lm[topo.LEFT_EYE])]
    irises = tuple(_iris_sprite(image, lm, iris, eye, m) for iris, eye, m in
                   ((iris_right, topo.RIGHT_EYE, eyes[0]), (iris_left, topo.LEFT_EYE, eyes[1])))
    # Paint the irises out of the eyes: the warp then carries white of the eye only, and the
    # irises are pasted back where the gaze puts them.
    hole = np.zeros(shape, np.uint8)
    for sp, iris in zip(irises, (iris_right, iris_left)):
        if sp is None:
            continue
        cv2.circle(hole, tuple(int(v) for v in np.round(lm[iris[0], :2])),
                   int(np.ceil(sp.radius * 1.15)), 255, -1)
    eye_union = cv2.bitwise_or(*eyes)
    hole = cv2.bitwise_and(hole, cv2.dilate(eye_union, np.ones((3, 3), np.uint8)))
    clean = cv2.inpaint(image, hole, 3, cv2.INPAINT_TELEA) if hole.any() else image.copy()

    lips = cv2.subtract(_poly_mask(shape, lm[topo.LIPS_OUTER]), _poly_mask(shape, lm[topo.LIPS_INNER]))
    skin_mask = np.zeros(shape, np.uint8)
    for i in topo.SKIN_POINTS:
        cv2.circle(skin_mask, tuple(int(v) for v in np.round(lm[i, :2])), 6, 255, -1)
    skin = _median_colour(image, skin_mask, np.array([180, 140, 120]))
    lip = _median_colour(image, lips, skin * np.array([1.0, 0.8, 0.8]))
    grey = float(np.ptp(skin)) < 10  # black-and-white photo: synthesise in grey too
    luma = float(skin.mean())
    # Teeth are lit like the whites of the eyes, whatever the skin tone: take their brightness
    # from the sclera (the eye pixels left once the iris is painted out), warmed slightly.
    white = eye_union & ~cv2.dilate(hole, np.ones((5, 5), np.uint8))
    px = clean[white > 0].astype(np.float32)
    if len(px) >= 8:  # the brightest eye pixels: lids and lashes darken the rest
        sclera = np.median(px[px.mean(1) >= np.percentile(px.mean(1), 80)], 0)
    else:
        sclera = np.array([215, 210, 200], np.float32)
    # Small video eyes read darker than they are; teeth are at least as bright as the skin's
    # brightest channel and never dimmer than a well-exposed off-white (190).
    level = float(np.clip(max(sclera.mean(), skin.max()), 190, 235))
    teeth = np.array([1.0, 0.96, 0.88], np.float32) * level
    inner = _poly_mask(shape, lm[topo.LIPS_INNER])
    if cv2.countNonZero(inner) > 30:  # teeth showing in the portrait: use their real colour
        px = image[inner > 0].astype(np.float32)
        bright = px[px.mean(1) >= np.percentile(px.mean(1), 75)]
        if bright.mean() > 0.8 * luma:
            teeth = np.median(bright, 0)
    tongue = lip * 0.85 + np.array([12, 0, 4], np.float32)
    cavity = lip * 0.3
    if grey:
        teeth, tongue, cavity, lip = (np.full(3, v.mean(), np.float32)
                                      for v in (teeth, tongue, cavity, lip))
    lids = tuple(_lid_colour(image, lm, upper, eye, skin) for upper, eye in
                 ((topo.RIGHT_EYE_UPPER, eyes[0]), (topo.LEFT_EYE_UPPER, eyes[1])))
    return Appearance(image=clean, irises=irises, lids=lids, lip=lip, skin=skin,
                      teeth=np.clip(teeth, 0, 255), cavity=cavity, tongue=np.clip(tongue, 0, 255))
