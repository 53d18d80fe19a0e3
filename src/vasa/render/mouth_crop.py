"""The mouth crop the refiner sees: one geometry for training pairs, training and rendering.

A similarity transform puts the mouth at the centre of a CROP x CROP square, upright (the
eye line horizontal) and at a fixed scale (MOUTH_IOD eye distances across), so the network
sees every face's mouth the same size whatever the portrait's resolution, roll or distance.
The lip contours, drawn into the crop as two masks, tell the network the target mouth shape;
the paste mask says which refined pixels go back into the frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from vasa.latent import topology as topo

CROP = 128  # crop side in pixels (the network's input size)
MOUTH_IOD = 1.25  # crop side in inter-ocular distances: lips, chin top and nostrils' base
PX_PER_IOD = CROP / MOUTH_IOD  # crop pixels per inter-ocular distance
EYE_CORNERS = (33, 263)  # outer eye corners: scale and roll of the crop
MOUTH_CENTRE = (61, 291, 0, 17)  # mouth corners and outer lip midpoints
LIPS = topo.LIPS_OUTER + topo.LIPS_INNER  # (40,) contour points kept per sample
NUM_OUTER = len(topo.LIPS_OUTER)
# The network's input channels, in order (refine.net and the runtime both build it this way).
CHANNELS = ("warped R", "warped G", "warped B", "reference R", "reference G", "reference B",
            "outer lips", "inner lips")
IN_CHANNELS = len(CHANNELS)
PASTE_GROW = 0.04  # paste mask: the outer lip contour grown by this share of the crop side
SHIFT = 4
# Where a pasted refinement keeps the frame's detail, its change is taken through a Gaussian of
# this sigma (crop pixels). The refiners are L1/SSIM regressors trained on pairs whose warp and
# real frame never align to the pixel, so besides their corrections (shading, colour, the lip
# outline's shape) they learnt to blur: on a sharp photo the change carried that blur onto the
# lips and skin the warp had placed well (a 256 px Audrey Hepburn photo: lips smeared into the
# skin). Low-passed, the change keeps the corrections and the warp keeps its lines and grain.
DETAIL_SIGMA = 1.5
# An opening this many times the portrait's (in area) is the refiner's alone (`carried`).
CARRY_STRETCH = 2.0
OPENING_SLACK = 8.0  # square crop pixels: a slit a pixel high and a few long


def upright_affine(landmarks: np.ndarray, centre: tuple[int, ...], size: tuple[int, int],
                   across: float, what: str) -> np.ndarray:
    """(2, 3) affine from frame pixels to a (width, height) = `size` crop of a face: the mean of
    the `centre` landmarks at the crop's centre, the eye line horizontal, `across` outer-corner
    eye distances over the crop's width. Shared by the mouth crop and the eye band."""
    a, b = (landmarks[i, :2].astype(np.float64) for i in EYE_CORNERS)
    eye = b - a
    iod = float(np.hypot(*eye))
    if not np.isfinite(iod) or iod < 1e-3:
        raise ValueError(f"{what}: eye corners coincide; not a face")
    c, s = eye / iod
    k = size[0] / (across * iod)
    mid = landmarks[list(centre), :2].astype(np.float64).mean(0)
    rot = k * np.array([[c, s], [-s, c]])  # rotates the eye line onto the x axis
    return np.concatenate([rot, (np.array(size, np.float64) / 2 - rot @ mid)[:, None]], 1)


def mouth_affine(landmarks: np.ndarray) -> np.ndarray:
    """(2, 3) affine from frame pixels to the mouth crop, for (478, >=2) pixel landmarks."""
    return upright_affine(landmarks, MOUTH_CENTRE, (CROP, CROP), MOUTH_IOD, "mouth_affine")


def crop(image: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """The CROP x CROP mouth crop of an (H, W, 3) uint8 frame."""
    return cv2.warpAffine(image, affine, (CROP, CROP), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def lip_points(landmarks: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """(40, 2) float32 lip contour points (outer 20, then inner 20) in crop pixels."""
    p = landmarks[LIPS, :2].astype(np.float64)
    return (p @ affine[:, :2].T + affine[:, 2]).astype(np.float32)


def _fill(points: np.ndarray, size: int = CROP) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(points * (1 << SHIFT)).astype(np.int32)], 255, cv2.LINE_AA,
                 SHIFT)
    return mask


def lip_masks(lips: np.ndarray) -> np.ndarray:
    """(2, CROP, CROP) float32 in [0, 1]: inside the outer lip contour, inside the inner one
    (the mouth opening). The network's picture of the target mouth shape."""
    return np.stack([_fill(lips[:NUM_OUTER]), _fill(lips[NUM_OUTER:])]).astype(np.float32) / 255


def grown(mask: np.ndarray, grow: int) -> np.ndarray:
    """float32 in [0, 1]: a uint8 0/255 `mask` grown by an ellipse `grow` px across (odd) and
    feathered by as much. The mouth's and the eyes' paste and detail masks."""
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    return cv2.GaussianBlur(mask, (grow, grow), 0).astype(np.float32) / 255


def _grown(contour: np.ndarray) -> np.ndarray:
    """(CROP, CROP) float32 in [0, 1]: inside a lip contour, grown by PASTE_GROW and
    feathered by as much."""
    return grown(_fill(contour), max(3, round(PASTE_GROW * CROP)) | 1)


def paste_mask(lips: np.ndarray) -> np.ndarray:
    """(CROP, CROP) float32 in [0, 1]: where refined pixels replace the warp. The outer lips
    grown and feathered, so the change fades out on skin, never at a hard edge."""
    return _grown(lips[:NUM_OUTER])


def opening_area(lips: np.ndarray) -> float:
    """Area of the mouth opening (the inner lip contour) in square crop pixels: the crop has a
    fixed size in eye distances, so areas of different frames and faces compare."""
    inner = lips[NUM_OUTER:].astype(np.float64)
    x, y = inner[:, 0], inner[:, 1]
    return 0.5 * abs(float(x @ np.roll(y, -1) - y @ np.roll(x, -1)))


def carried(area: float, source_area: float) -> float:
    """How much of a target opening of `area` the warp fills with the portrait's own mouth
    (0..1): all of it when the opening is no larger than the portrait's (the teeth and tongue
    it shows, moved), none from CARRY_STRETCH times its area (a closed portrait's opening is
    the lips' edge stretched into streaks). OPENING_SLACK keeps two shut mouths at 1."""
    stretch = (area + OPENING_SLACK) / (source_area + OPENING_SLACK)
    return float(np.clip((CARRY_STRETCH - stretch) / (CARRY_STRETCH - 1.0), 0.0, 1.0))


def detail_mask(lips: np.ndarray, carry: float = 0.0) -> np.ndarray:
    """(CROP, CROP) float32 in [0, 1]: where a pasted refinement keeps the frame's own detail
    (`paste`'s `keep`): everywhere but the mouth opening, grown and feathered. Inside the
    opening the warp's detail is its seam along the inner lips and the lips' texture
    stretched into streaks; there the refined crop is taken whole, except for the share
    `carry` (`carried`) the warp fills with the portrait's own teeth: on an open-mouthed
    portrait the refiner blurred crisp teeth the warp had moved into place."""
    return 1.0 - (1.0 - float(carry)) * _grown(lips[NUM_OUTER:])


def paste(frame: np.ndarray, refined: np.ndarray, affine: np.ndarray, mask: np.ndarray,
          start: np.ndarray | None = None, keep: np.ndarray | None = None) -> None:
    """Blend a refined crop back into `frame` (H, W, 3) uint8 in place, through `mask`, only
    over the box the mask covers (the rest of the frame is not touched or resampled).

    With `start`, the crop the refinement started from, and `keep` (CROP, CROP) in [0, 1]:
    where `keep` is 1 only the change (refined - start), low-passed (DETAIL_SIGMA), is added to
    the frame's own pixels. The lips and skin around the mouth then keep the frame's detail:
    the crop's, which the network's blur would take, and where the frame is finer than the
    crop (eyes over about 100 px apart: the crop spans 1.25 eye distances in CROP px) the
    frame's own instead of the crop's, sampled down and up again."""
    inv = cv2.invertAffineTransform(affine)
    ys, xs = np.nonzero(mask > 1e-3)
    if len(xs) == 0:
        return
    corners = np.array([[xs.min(), ys.min()], [xs.max() + 1, ys.max() + 1],
                        [xs.min(), ys.max() + 1], [xs.max() + 1, ys.min()]], np.float64)
    pts = corners @ inv[:, :2].T + inv[:, 2]
    h, w = frame.shape[:2]
    x0, y0 = np.clip(np.floor(pts.min(0)).astype(int), 0, [w, h])
    x1, y1 = np.clip(np.ceil(pts.max(0)).astype(int) + 1, 0, [w, h])
    if x1 <= x0 or y1 <= y0:
        return
    shift = inv.copy()
    shift[:, 2] -= (x0, y0)
    box = (int(x1 - x0), int(y1 - y0))
    def back(crop: np.ndarray) -> np.ndarray:  # crop -> frame box
        return cv2.warpAffine(np.ascontiguousarray(crop, np.float32), shift, box,
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    alpha = cv2.warpAffine(mask, shift, box, flags=cv2.INTER_LINEAR, borderValue=0.0)[..., None]
    patch = frame[y0:y1, x0:x1].astype(np.float32)
    step = back(refined) - patch
    if start is not None and keep is not None:
        k = back(keep)[..., None]
        change = cv2.GaussianBlur(np.asarray(refined - start, np.float32), (0, 0), DETAIL_SIGMA)
        step += k * (back(change) - step)
    patch += step * alpha
    frame[y0:y1, x0:x1] = np.clip(patch + 0.5, 0, 255).astype(np.uint8)
