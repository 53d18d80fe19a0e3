"""Synthesis of the inside of the mouth when it opens wider than in the portrait.

A warp can only stretch what the portrait shows; a closed mouth has no teeth to stretch. Inside
the target inner-lip contour we paint a dark cavity, the tongue, and the upper and lower teeth,
coloured from the portrait and shaded, then blend it in with a soft edge. Teeth rows follow
the lips: a band of upper teeth under the upper lip, a thinner band of lower teeth above the lower
lip, sized by the opening.
"""

from __future__ import annotations

import cv2
import numpy as np

from vasa.latent import topology as topo
from vasa.latent.face_model import lip_gap
from vasa.render.appearance import Appearance, region_box

SHIFT = 3
OPEN_RAMP = 0.05  # canonical lip gap over which the synthetic interior fades in
GAPS = np.array([0.0, 0.27, -0.27, 0.49, -0.49, 0.67, -0.67, 0.82, -0.82])  # incisors widest


def paint_mouth(frame: np.ndarray, lm: np.ndarray, canonical: np.ndarray, place,
                app: Appearance, source_gap: float) -> None:
    """Paint the mouth interior into `frame` (S, S, 3) uint8, in place.

    lm: (478, 3) target pixel landmarks; canonical: (478, 3) target canonical shape; place:
    canonical (N, 3) -> pixel (N, 3) for the target pose; source_gap: the portrait's lip gap.
    """
    gap = lip_gap(canonical)
    alpha_all = float(np.clip((gap - max(source_gap, 0.01)) / OPEN_RAMP, 0.0, 1.0))
    if alpha_all <= 0.0:
        return
    inner = lm[topo.LIPS_INNER, :2]
    box = region_box(inner, frame.shape, 3)
    if box is None:
        return
    x0, y0, x1, y1 = box
    origin = np.array([x0, y0], np.float64)
    roi = np.empty((y1 - y0, x1 - x0, 3), np.float32)
    roi[:] = app.cavity

    def poly(pts: np.ndarray) -> np.ndarray:
        return np.round((pts[:, :2] - origin) * (1 << SHIFT)).astype(np.int32)

    # Teeth and tongue hang off the target lip contours (canonical units, eye distance 1): a
    # band of upper teeth under the upper lip, a thinner band of lower teeth above the lower
    # lip, the tongue behind them. Bands grow with the opening up to anatomical heights.
    left, right = canonical[78], canonical[308]
    cx = 0.5 * (left[0] + right[0])
    tw = 0.45 * (right[0] - left[0])
    z = float(canonical[13, 2]) + 0.05
    upper = canonical[topo.LIPS_INNER_UPPER]
    lower = canonical[topo.LIPS_INNER_LOWER[::-1]]  # left to right, like the upper contour
    up_h = 0.075 * min(1.0, gap / 0.12)
    lo_h = 0.035 * min(1.0, max(gap - 0.06, 0.0) / 0.12)
    px = _px(place)
    tongue_c = place(np.array([[cx, float(lower[5, 1]) - lo_h - 0.01, z + 0.05]]))[0, :2] - origin
    axes = (max(1, int(0.8 * tw * px)), max(1, int(0.18 * gap * px + 1)))
    cv2.ellipse(roi, tuple(int(v) for v in tongue_c), axes, 0, 0, 360, app.tongue.tolist(), -1,
                cv2.LINE_AA)
    rows = []
    for contour, h, width, shade in ((upper, up_h, 1.0, 1.0), (lower, -lo_h, 0.8, 0.85)):
        x = np.linspace(cx - tw * width, cx + tw * width, 13)
        y = np.interp(x, contour[:, 0], contour[:, 1])
        u = (x - cx) / (tw * width)
        edge = np.stack([x, y + h * (1 - 0.35 * u**2), np.full_like(x, z)], 1)
        back = np.stack([x[::-1], y[::-1] - np.sign(h) * 0.1, np.full_like(x, z)], 1)
        cv2.fillPoly(roi, [poly(place(np.concatenate([edge, back])))],
                     (app.teeth * shade).tolist(), cv2.LINE_AA, SHIFT)
        rows.append((x, edge, -np.sign(h) * 0.08, width))
    # Gaps between teeth: faint lines, the incisors wider than the teeth beside them.
    ends = []
    for x_row, edge, reach, width in rows:
        x = cx + GAPS * tw * width
        y = np.interp(x, x_row, edge[:, 1])
        zs = np.full_like(x, z)
        ends += [np.stack([x, y, zs], 1), np.stack([x, y + reach, zs], 1)]
    a0, a1, b0, b1 = (poly(place(e)) for e in ends)  # one placement for every line end
    colour = (app.teeth * 0.86).tolist()
    for p, q in zip(np.concatenate([a0, b0]), np.concatenate([a1, b1])):
        cv2.line(roi, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), colour, 1, cv2.LINE_AA,
                 SHIFT)
    # Shading: darker towards the corners and just under the upper lip (the lip's shadow).
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    centre = 0.5 * (lm[78, :2] + lm[308, :2])
    axis = lm[308, :2] - lm[78, :2]
    halfw = 0.5 * float(np.linalg.norm(axis)) + 1e-3
    axis = axis / (2 * halfw)
    u = ((xx - centre[0]) * axis[0] + (yy - centre[1]) * axis[1]) / halfw
    shade = 1.0 - 0.45 * np.clip(u, -1, 1) ** 4
    upper_y = np.interp(u, np.linspace(-1, 1, 11),
                        ((lm[topo.LIPS_INNER_UPPER, :2] - centre) @ np.array([-axis[1], axis[0]])))
    v = (xx - centre[0]) * -axis[1] + (yy - centre[1]) * axis[0] - upper_y
    shade *= 0.7 + 0.3 * np.clip(v / max(2.0, 0.2 * halfw), 0, 1)
    roi *= shade[..., None]
    roi = cv2.GaussianBlur(roi, (3, 3), 0)  # photos are never pixel-sharp; match their softness
    # Soft-edged mask of the inner lip contour.
    mask = np.zeros(roi.shape[:2], np.uint8)
    cv2.fillPoly(mask, [poly(inner)], 255, cv2.LINE_AA, SHIFT)
    k = max(3, int(0.08 * halfw) | 1)
    mask = cv2.GaussianBlur(mask, (k, k), 0).astype(np.float32) * (alpha_all / 255)
    patch = frame[y0:y1, x0:x1].astype(np.float32)
    patch += (roi - patch) * mask[..., None]
    frame[y0:y1, x0:x1] = np.clip(patch, 0, 255).astype(np.uint8)


def _px(place) -> float:
    """Pixels per canonical unit under `place` (measured on a unit x step)."""
    p = place(np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    return float(np.linalg.norm(p[1, :2] - p[0, :2]))
