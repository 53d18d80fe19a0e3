"""Eyes: the iris placed by gaze inside the eyelids, and the lash line of a closing lid.

The warp source has its irises painted out (appearance.py), so the warped eye shows only the
white of the eye; here each iris sprite is pasted at the target iris centre, clipped by the
target eyelid contour. A blink therefore hides the iris behind the lid as the lid comes down,
and a gaze change moves the iris without dragging the eyelids.
"""

from __future__ import annotations

import cv2
import numpy as np

from vasa.latent import topology as topo
from vasa.render.appearance import Appearance, IrisSprite, region_box

SHIFT = 3


def _paste_iris(frame: np.ndarray, sprite: IrisSprite, centre: np.ndarray, scale: float,
                eye: np.ndarray, closure: float) -> None:
    """Alpha-blend one iris sprite at `centre` (x, y), clipped by the eye polygon (n, 2)."""
    box = region_box(eye, frame.shape, 2)
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
    if closure > 0.05:  # lashes meeting: a dark line where the lids close
        lid = np.round((eye[: len(eye) // 2 + 1] - [x0, y0]) * (1 << SHIFT)).astype(np.int32)
        line = np.zeros_like(mask)
        cv2.polylines(line, [lid], False, 255, max(1, round(1.5 * scale)),
                      cv2.LINE_AA, SHIFT)
        a = line.astype(np.float32) / 255 * min(1.0, closure) * 0.6
        patch *= 1 - a[..., None]
    frame[y0:y1, x0:x1] = np.clip(patch, 0, 255).astype(np.uint8)


def paint_eyes(frame: np.ndarray, lm: np.ndarray, app: Appearance, iris_idx: tuple, scale: float,
               closure: tuple[float, float]) -> None:
    """Paste both irises into `frame` in place. lm: (478, 3) target pixel landmarks; iris_idx:
    (right, left) iris index arrays; scale: target/source face size; closure: per eye, 0 open,
    1 shut."""
    for sprite, iris, eye, c in zip(app.irises, iris_idx, (topo.RIGHT_EYE, topo.LEFT_EYE), closure):
        _paste_iris(frame, sprite, lm[iris[0], :2], scale, lm[eye, :2], c)
