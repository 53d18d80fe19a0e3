"""Eyes: the iris placed by gaze inside the eyelids, and the eyelid skin of a closing eye.

The warp source has its irises painted out (appearance.py), so the warped eye shows only the
white of the eye; here each iris sprite is pasted at the target iris centre, clipped by the
target eyelid contour. A blink therefore hides the iris behind the lid as the lid comes down,
and a gaze change moves the iris without dragging the eyelids.

A closing eye also gets eyelid skin: the warp alone squeezes the open eye (its lash line, the
white, the dark lid crease) into a dark band that reads, to a viewer and to a face tracker, as
an eye still half open (re-tracked blinks: 0 per minute on some portraits, issue 12). Where the
eye was open at rest and is now covered, lid skin is laid over it, with a soft shadow towards
the lashes and a thin lash line where the lids meet. The lid takes the colour of the skin
round the eye, pixel by pixel: one colour for the whole lid (the skin above the eye's, mixed
with the face's) drew an oval a shade off its surroundings, a sticker on most portraits
(`evaluation.lid_seam`: seam 0.23 -> 0.07, median of 21 portraits, eyes shut).
"""

from __future__ import annotations

import cv2
import numpy as np

from vasa.latent import topology as topo
from vasa.render.appearance import Appearance, IrisSprite, region_box

SHIFT = 3


LID_START = 0.25  # closure (0 open, 1 shut) at which lid skin starts covering the eye
LID_FULL = 0.85  # closure at which it covers it whole
# The lid's colour is spread from a ring round the covered eye LID_RING eye widths deep, its
# pixels at least LID_DARK of the spread colour's luma (skin, not lashes or liner), by a
# Gaussian LID_SPREAD eye widths wide: the middle of a shut eye is about 0.2 eye widths from
# skin above and below it.
LID_RING = 0.1
LID_DARK = 0.7
LID_LIGHT = 1.0
LID_SPREAD = 0.2
# The lids the eye refiner starts from are lighter: their colour is spread from the ring's
# pixels at or over the ring's local level (LID_LIGHT), its lighter half, rather than all but
# lashes and liner (LID_DARK). The skin round an open eye is darker than round a shut one
# (socket shadow, the crease), and the refiner keeps much of the drawn lid's tone. Held-out
# blinks (`scripts/refiner_ablation.py`, 11 clips x 4 s) 22.30 -> 22.39 dB, the refined lid's
# outline against the skin (`scripts/lid_seam.py`, median of 21 portraits) 0.081 -> 0.069. The
# ring's dark pixels lifted to its median instead drew orange ovals on shadowed paintings
# (their chroma scaled up with them). Drawn lids that are the picture (`--no-refiner`) keep
# LID_DARK: lighter, they read as light ovals against the open eye's darker socket.


def _paste_iris(frame: np.ndarray, sprite: IrisSprite, centre: np.ndarray, scale: float,
                eye: np.ndarray) -> None:
    """Alpha-blend one iris sprite at `centre` (x, y), clipped by the eye polygon (n, 2)."""
    box = region_box(eye, frame.shape, max(2, round(2 * scale)))
    if box is None:
        return
    x0, y0, x1, y1 = box
    m = np.array([[scale, 0, centre[0] - x0 - scale * sprite.centre[0]],
                  [0, scale, centre[1] - y0 - scale * sprite.centre[1]]], np.float32)
    rgba = cv2.warpAffine(sprite.rgba, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    pts = np.round((eye - [x0, y0]) * (1 << SHIFT)).astype(np.int32)
    cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA, SHIFT)
    alpha = rgba[..., 3] * (mask.astype(np.float32) / 255)
    patch = frame[y0:y1, x0:x1].astype(np.float32)
    # Upper-lid shadow on the iris: eyes look darker at the top.
    top = eye[:, 1].min() - y0
    span = max(float(eye[:, 1].max() - eye[:, 1].min()), 1.0)
    yy = np.arange(y1 - y0, dtype=np.float32)[:, None]
    shadow = 0.7 + 0.3 * np.clip((yy - top) / (0.45 * span), 0, 1)
    colour = rgba[..., :3] * 255 * shadow[..., None]
    patch += (colour - patch) * alpha[..., None]
    frame[y0:y1, x0:x1] = np.clip(patch, 0, 255).astype(np.uint8)


def _lash_line(frame: np.ndarray, eye: np.ndarray, closure: float, scale: float) -> None:
    """Lashes meeting: a thin dark line along the closing upper lid (the first half of the eye
    polygon (n, 2)), darker as the eye shuts."""
    box = region_box(eye, frame.shape, max(2, round(2 * scale)))
    if box is None:
        return
    x0, y0, x1, y1 = box
    upper = np.round((eye[: len(eye) // 2 + 1] - [x0, y0]) * (1 << SHIFT)).astype(np.int32)
    line = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.polylines(line, [upper], False, 255, max(1, round(scale)), cv2.LINE_AA, SHIFT)
    a = line.astype(np.float32) / 255 * min(1.0, closure) * 0.45
    patch = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = np.clip(patch * (1 - a[..., None]), 0, 255).astype(np.uint8)


def _cover_with_lid(frame: np.ndarray, open_eye: np.ndarray, eye: np.ndarray, lid: np.ndarray,
                    cover: float, scale: float, light: bool = False) -> None:
    """Lay lid skin over the part of the rest-open eye (polygon (n, 2), frame pixels) that the
    closing lid now hides, in place. Its colour, per pixel, is the skin's round that part (a
    ring round it, lashes and liner left out, spread inwards), so the lid meets the skin above
    and below it without an edge; `lid` (RGB) where no ring is in the frame. Shaded darker
    towards the lash line; opaque over the eye, feathered outwards. light: the colour comes
    from the ring's lighter half only (the eye refiner's input, see LID_LIGHT)."""
    width = max(float(np.ptp(open_eye[:, 0])), 1.0)
    grow = max(1, round(1.5 * scale))  # the squeezed lash line sits just outside the rest eye
    ring = max(3, round(LID_RING * width))
    box = region_box(np.concatenate([open_eye, eye]), frame.shape, grow + ring + 1)
    if box is None:
        return
    x0, y0, x1, y1 = box
    open_eye, eye = open_eye - [x0, y0], eye - [x0, y0]
    patch = frame[y0:y1, x0:x1].astype(np.float32)
    h, w = patch.shape[:2]
    area = np.zeros((h, w), np.uint8)
    cv2.fillPoly(area, [np.round(open_eye * (1 << SHIFT)).astype(np.int32)], 255, cv2.LINE_AA,
                 SHIFT)
    area = cv2.dilate(area, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    # Opaque over the grown eye (the rest eye's lash lines are under the lid, not round it),
    # feathered outwards only.
    feather = max(1.0, 1.2 * scale)
    alpha = np.minimum(2 * cv2.GaussianBlur(area.astype(np.float32) / 255, (0, 0), feather), 1)
    covered = (alpha > 0.05).astype(np.uint8)
    luma = patch.mean(2)
    around = cv2.dilate(covered, np.ones((2 * ring + 1, 2 * ring + 1), np.uint8)) > covered
    base = np.broadcast_to(lid, patch.shape).astype(np.float32)
    if around.sum() >= 8:
        # The ring's luma spread inwards, then its colour without the ring's pixels much
        # darker than that (lashes, liner): the lid takes the shadowed skin above it where
        # that is darker than the skin below.
        sigma = max(1.5, LID_SPREAD * width)
        ring_w = around.astype(np.float32)
        level = (cv2.GaussianBlur(luma * ring_w, (0, 0), sigma)
                 / np.maximum(cv2.GaussianBlur(ring_w, (0, 0), sigma), 1e-6))
        skin = (around & (luma >= (LID_LIGHT if light else LID_DARK) * level)
                ).astype(np.float32)
        weight = cv2.GaussianBlur(skin, (0, 0), sigma)
        spread = (cv2.GaussianBlur(patch * skin[..., None], (0, 0), sigma)
                  / np.maximum(weight, 1e-6)[..., None])
        near = np.clip(weight / 0.01, 0, 1)[..., None]  # far from any skin: the lid colour
        base = near * spread + (1 - near) * base
    top, bottom = float(open_eye[:, 1].min()), float(eye[:, 1].max())
    yy = np.arange(h, dtype=np.float32)[:, None]
    shade = 1.0 - 0.15 * np.clip((yy - top) / max(bottom - top, 1.0), 0, 1)  # (h, 1)
    # Skin texture: the fine detail of the skin above the eye, carried down onto the lid (a
    # flat colour reads as a sticker).
    lift = int(np.ceil(bottom - top)) + 2 * grow
    fine = np.clip(luma / np.maximum(cv2.GaussianBlur(luma, (0, 0), 2.0), 1.0) - 1, -0.08, 0.08)
    detail = np.zeros_like(fine)  # rows too near the top to have skin above them stay plain
    if lift < h:
        detail[lift:] = cv2.GaussianBlur(fine, (0, 0), 0.7)[:h - lift]
    colour = base * (shade * (1 + detail))[..., None]
    # Not over the part of the eye still open: the lid ends at the target's lid line, and a
    # lid laid over all of the eye at part strength hazed the iris half way through a blink.
    still_open = np.zeros((h, w), np.uint8)
    cv2.fillPoly(still_open, [np.round(eye * (1 << SHIFT)).astype(np.int32)], 255, cv2.LINE_AA,
                 SHIFT)
    a = (alpha * cover * (1 - still_open.astype(np.float32) / 255))[..., None]
    patch += (colour - patch) * a
    frame[y0:y1, x0:x1] = np.clip(patch, 0, 255).astype(np.uint8)


def paint_eyes(frame: np.ndarray, lm: np.ndarray, app: Appearance, iris_idx: tuple, scale: float,
               closure: tuple[float, float], lm_open: np.ndarray | None = None,
               light: bool = False) -> None:
    """Paste both irises into `frame` in place and, where an eye closes, its lid and lash line.
    lm: (478, 3) target pixel landmarks; iris_idx:
    (right, left) iris index arrays; scale: target/source face size; closure: per eye, 0 open,
    1 shut; lm_open: the same target landmarks with the eyes at rest openness (for the lid
    skin of a closing eye; none painted without it); light: the eye refiner's lighter lids."""
    for sprite, iris, eye, c, lid in zip(app.irises, iris_idx, (topo.RIGHT_EYE, topo.LEFT_EYE),
                                         closure, app.lids):
        if sprite is None:  # shut in the portrait: no iris to show, the lids stay as they are
            continue
        target = lm[eye, :2]
        _paste_iris(frame, sprite, lm[iris[0], :2], scale, target)
        cover = float(np.clip((c - LID_START) / (LID_FULL - LID_START), 0, 1))
        if lm_open is not None and cover > 0:
            _cover_with_lid(frame, lm_open[eye, :2], target, lid, cover, scale, light)
        if c > 0.05:
            _lash_line(frame, target, c, scale)
