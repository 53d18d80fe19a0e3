"""Eyes: the iris placed by gaze inside the eyelids, and the eyelid skin of a closing eye.

The warp source has its irises painted out (appearance.py), so the warped eye shows only the
white of the eye; here each iris sprite is pasted at the target iris centre, clipped by the
target eyelid contour. A blink therefore hides the iris behind the lid as the lid comes down,
and a gaze change moves the iris without dragging the eyelids.

A closing eye also gets eyelid skin: the warp alone squeezes the open eye (its lash line, the
white, the dark lid crease) into a dark band that reads, to a viewer and to a face tracker, as
an eye still half open (re-tracked blinks: 0 per minute on some portraits, issue 12). Where the
eye was open at rest and is now covered, the upper lid's own skin colour is laid over it, with
a soft shadow towards the lashes and a thin lash line where the lids meet.
"""

from __future__ import annotations

import cv2
import numpy as np

from vasa.latent import topology as topo
from vasa.render.appearance import Appearance, IrisSprite, region_box

SHIFT = 3


LID_START = 0.25  # closure (0 open, 1 shut) at which lid skin starts covering the eye
LID_FULL = 0.85  # closure at which it covers it whole


def _paste_iris(frame: np.ndarray, sprite: IrisSprite, centre: np.ndarray, scale: float,
                eye: np.ndarray, closure: float, open_eye: np.ndarray | None = None,
                lid: np.ndarray | None = None) -> None:
    """Alpha-blend one iris sprite at `centre` (x, y), clipped by the eye polygon (n, 2); with
    `open_eye` (the same eye's polygon at rest openness) and its `lid` colour, cover what the
    closing lid hides with eyelid skin."""
    box = region_box(eye if open_eye is None else np.concatenate([eye, open_eye]),
                     frame.shape, max(2, round(2 * scale)))
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
    cover = float(np.clip((closure - LID_START) / (LID_FULL - LID_START), 0, 1))
    if open_eye is not None and lid is not None and cover > 0:
        _cover_with_lid(patch, open_eye - [x0, y0], eye - [x0, y0], lid, cover, scale)
    if closure > 0.05:  # lashes meeting: a thin dark line along the closing upper lid
        upper = np.round((eye[: len(eye) // 2 + 1] - [x0, y0]) * (1 << SHIFT)).astype(np.int32)
        line = np.zeros_like(mask)
        cv2.polylines(line, [upper], False, 255, max(1, round(scale)), cv2.LINE_AA, SHIFT)
        a = line.astype(np.float32) / 255 * min(1.0, closure) * 0.45
        patch *= 1 - a[..., None]
    frame[y0:y1, x0:x1] = np.clip(patch, 0, 255).astype(np.uint8)


def _cover_with_lid(patch: np.ndarray, open_eye: np.ndarray, eye: np.ndarray, lid: np.ndarray,
                    cover: float, scale: float) -> None:
    """Lay lid skin (RGB) over the part of the rest-open eye (polygon, patch coordinates) that
    the closing lid now hides, in place. Shaded darker towards the lash line, feathered."""
    h, w = patch.shape[:2]
    grow = max(1, round(1.5 * scale))  # the squeezed lash line sits just outside the rest eye
    area = np.zeros((h, w), np.uint8)
    cv2.fillPoly(area, [np.round(open_eye * (1 << SHIFT)).astype(np.int32)], 255, cv2.LINE_AA,
                 SHIFT)
    area = cv2.dilate(area, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    alpha = cv2.GaussianBlur(area.astype(np.float32) / 255, (0, 0), max(1.0, 1.2 * scale))
    top, bottom = float(open_eye[:, 1].min()), float(eye[:, 1].max())
    yy = np.arange(h, dtype=np.float32)[:, None]
    shade = 1.0 - 0.15 * np.clip((yy - top) / max(bottom - top, 1.0), 0, 1)  # (h, 1)
    # Skin texture: the fine detail of the skin above the eye, carried down onto the lid (a
    # flat colour reads as a sticker).
    lift = int(np.ceil(bottom - top)) + 2 * grow
    luma = patch.mean(2)
    fine = np.clip(luma / np.maximum(cv2.GaussianBlur(luma, (0, 0), 2.0), 1.0) - 1, -0.08, 0.08)
    detail = np.zeros_like(fine)  # rows too near the top to have skin above them stay plain
    if lift < h:
        detail[lift:] = cv2.GaussianBlur(fine, (0, 0), 0.7)[:h - lift]
    colour = lid[None, None, :] * (shade * (1 + detail))[..., None]
    a = (alpha * cover)[..., None]
    patch += (colour - patch) * a


def paint_eyes(frame: np.ndarray, lm: np.ndarray, app: Appearance, iris_idx: tuple, scale: float,
               closure: tuple[float, float], lm_open: np.ndarray | None = None) -> None:
    """Paste both irises into `frame` in place. lm: (478, 3) target pixel landmarks; iris_idx:
    (right, left) iris index arrays; scale: target/source face size; closure: per eye, 0 open,
    1 shut; lm_open: the same target landmarks with the eyes at rest openness (for the lid
    skin of a closing eye; none painted without it)."""
    for sprite, iris, eye, c, lid in zip(app.irises, iris_idx, (topo.RIGHT_EYE, topo.LEFT_EYE),
                                         closure, app.lids):
        if sprite is None:  # shut in the portrait: no iris to show, the lids stay as they are
            continue
        open_eye = None if lm_open is None else lm_open[eye, :2]
        _paste_iris(frame, sprite, lm[iris[0], :2], scale, lm[eye, :2], c, open_eye, lid)
