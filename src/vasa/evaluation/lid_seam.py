"""How visible a shut eye's lid is as a patch (model-free; issue 13: a blink that reads as a
sticker).

A shut eye in a video is skin from the brow down to the lash line: nothing marks where the open
eye was. A renderer that lays lid skin over the open eye in one colour shows the open eye's
outline instead, an oval a viewer sees at once. The seam measures that outline on the upper
half of the eye, where a real shut lid is smooth skin (the lash line, which real lids do show,
is on the lower half): per pixel column, the luma step between a band just inside the open
eye's outline (grown a little, past its lash line) and a band just outside it, over the skin's
luma there; the median over the columns. 0: no edge; a tenth: a clear one.

Needs numpy and OpenCV only (no `vasa` import), so `scripts/lid_seam.py` can score another
tree's renders with this tree's measure.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

GROW = 0.05  # the open eye's outline is grown this many eye widths (to its lash line)
BAND = 0.08  # depth of the bands inside and outside that outline, in eye widths
MIN_COLUMNS = 5  # fewer columns with both bands than this: no reading
SKIN_DISC = 0.12  # radius of the face-skin discs of `lid_tone`, in eye widths


@dataclass
class EyeOutline:
    """Masks (h, w) bool round an eye's open outline, in the box (x0, y0, x1, y1) of a frame
    they cover: `area`, the outline grown GROW eye widths; `inside` and `outside`, the bands of
    the asked depth just inside and just outside its edge; `above`, the upper half (above the
    line through the eye's corners)."""

    box: tuple[int, int, int, int]
    area: np.ndarray
    inside: np.ndarray
    outside: np.ndarray
    above: np.ndarray


def eye_outline(shape: tuple[int, ...], open_eye: np.ndarray, depth: float
                ) -> EyeOutline | None:
    """The masks round `open_eye` (n, 2) pixels, corners first and mid-way (MediaPipe's eye
    contour order: the first half the upper lid), bands `depth` eye widths deep, in a frame of
    `shape`; None where the eye is under 4 px wide or too near the frame's edge."""
    eye = np.asarray(open_eye, np.float64)[:, :2]
    width = float(np.ptp(eye[:, 0]))
    if width < 4:
        return None
    grow, band = max(1, round(GROW * width)), max(2, round(depth * width))
    pad = grow + band + 2
    x0, y0 = np.floor(eye.min(0)).astype(int) - pad
    x1, y1 = np.ceil(eye.max(0)).astype(int) + pad + 1
    if x0 < 0 or y0 < 0 or x1 > shape[1] or y1 > shape[0]:
        return None
    area = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(area, [np.round(eye - [x0, y0]).astype(np.int32)], 1)
    area = cv2.dilate(area, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    inside = area.astype(bool) & ~cv2.erode(area, kernel).astype(bool)
    outside = cv2.dilate(area, kernel).astype(bool) & ~area.astype(bool)
    c0, c1 = eye[0] - [x0, y0], eye[len(eye) // 2] - [x0, y0]
    xx = np.arange(x1 - x0, dtype=np.float64)
    t = (xx - c0[0]) / (c1[0] - c0[0]) if c1[0] != c0[0] else np.zeros_like(xx)
    above = np.arange(y1 - y0)[:, None] < (c0[1] + t * (c1[1] - c0[1]))[None, :]
    return EyeOutline((int(x0), int(y0), int(x1), int(y1)), area.astype(bool), inside, outside,
                      above)


def lid_seam(frame: np.ndarray, open_eye: np.ndarray) -> float:
    """The seam of a shut eye in `frame` (H, W, 3) uint8 round the outline the same eye has
    open, `open_eye` (n, 2) pixels (as `eye_outline`); nan where too little of it is in the
    frame."""
    o = eye_outline(frame.shape, open_eye, BAND)
    if o is None:
        return float("nan")
    x0, y0, x1, y1 = o.box
    luma = frame[y0:y1, x0:x1].astype(np.float32).mean(2)
    steps = []
    for x in range(luma.shape[1]):
        i = o.inside[:, x] & o.above[:, x]
        out = o.outside[:, x] & o.above[:, x]
        if i.any() and out.any():
            skin = float(luma[out, x].mean())
            steps.append(abs(float(luma[i, x].mean()) - skin) / max(skin, 1.0))
    return float(np.median(steps)) if len(steps) >= MIN_COLUMNS else float("nan")


def lid_tone(frame: np.ndarray, open_eye: np.ndarray, skin_points: np.ndarray) -> float:
    """How light a shut eye's upper lid is against the face's skin: the mean luma of the upper
    half of the open outline `open_eye` (n, 2) pixels, grown GROW (lid and lash line, as
    `eye_outline`), over the median luma of discs SKIN_DISC eye widths wide round
    `skin_points` (k, 2) pixels (cheeks and forehead, `topology.SKIN_POINTS`). Unlike the
    skin right round the eye, that skin is not darkened by make-up, lashes or the open eye's
    socket shadow. nan where the eye has no reading."""
    o = eye_outline(frame.shape, open_eye, BAND)
    if o is None:
        return float("nan")
    x0, y0, x1, y1 = o.box
    luma = frame.astype(np.float32).mean(2)
    discs = np.zeros(frame.shape[:2], np.uint8)
    r = max(2, round(SKIN_DISC * float(np.ptp(np.asarray(open_eye)[:, 0]))))
    for x, y in np.round(np.asarray(skin_points, np.float64)[:, :2]).astype(int):
        cv2.circle(discs, (int(x), int(y)), r, 1, -1)
    if not discs.any():
        return float("nan")
    skin = float(np.median(luma[discs > 0]))
    return float(luma[y0:y1, x0:x1][o.area & o.above].mean() / max(skin, 1.0))


__all__ = ["EyeOutline", "eye_outline", "lid_seam", "lid_tone"]
