"""How the upper teeth read across an open mouth, from a frame's pixels: model-free.

Real upper teeth are not a bar of light. The dental arch turns away from the camera into the
cheeks' shadow, so the band under the upper lip darkens from the midline to the corners, and
each tooth's edge is a thin dark line across it. A regressor that draws the mean of the teeth
that fit gives a soft band of even light (a "glowing bar"). Two readings, at frames whose inner
lips are at least MIDDLING apart:

- `profile`: the band's median luma over the lips' in BINS of distance from the teeth's
  midline (the upper lip's midpoint); a real mouth's falls to about half its middle's by 0.2
  IOD;
- `texture`: the mean absolute difference between the band's luma and its blur across the
  mouth (TEXTURE_SIGMA crop px), over the lips' luma, within TEXTURE_REACH of the midline: the
  tooth edges, where a soft band reads near 0.

The band is the rows from just under the upper inner lip down to the teeth's band
(`render.interior.TEETH_BAND`) or half the column's opening, whichever is less, so the lower
lip and the tongue stay out.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vasa.evaluation.interior import MIDDLING
from vasa.io import read_frames
from vasa.render import mouth_crop as mc
from vasa.render.interior import LUMA, TEETH_BAND, lip_lines

BIN = 0.05 * mc.PX_PER_IOD  # crop px: the profile's bins across the mouth
BINS = 6  # so the profile reaches 0.3 IOD from the midline
TEXTURE_SIGMA = 2.0  # crop px
TEXTURE_REACH = 0.15 * mc.PX_PER_IOD  # crop px from the midline the texture is read within
MIN_PIXELS = 4  # a bin with fewer band pixels is not read
MIDLINE = 0  # MediaPipe's upper lip midpoint: over the central incisors, with the head


@dataclass
class BandReading:
    """profile: (BINS,) the band's luma over the lips' from the midline out (nan: too few
    pixels); texture: see the module's docstring (nan: too few pixels)."""

    profile: np.ndarray
    texture: float


def read_band(frame: np.ndarray, landmarks: np.ndarray) -> BandReading | None:
    """The reading of one RGB frame (H, W, 3) uint8 with its pixel landmarks (478, >=2); None
    where the mouth is open less than MIDDLING (over the middle half of its width)."""
    a = mc.mouth_affine(landmarks)
    luma = mc.crop(frame, a).astype(np.float32) @ LUMA
    lips = mc.lip_points(landmarks, a)
    upper, lower = lip_lines(lips)
    xs = np.arange(mc.CROP, dtype=np.float64)
    top, bottom = np.interp(xs, upper[:, 0], upper[:, 1]), np.interp(xs, lower[:, 0], lower[:, 1])
    tall = np.where((xs > upper[0, 0]) & (xs < upper[-1, 0]), bottom - top, 0.0)
    middle = np.abs(xs - 0.5 * (upper[0, 0] + upper[-1, 0])) < 0.25 * (upper[-1, 0] - upper[0, 0])
    if not middle.any() or tall[middle].max() < MIDDLING * mc.PX_PER_IOD:
        return None
    outer, inner = mc.lip_masks(lips) > 0.5
    lips_luma = max(float(np.median(luma[outer & ~inner])), 1.0)
    ys = np.arange(mc.CROP, dtype=np.float64)[:, None]
    depth = np.minimum(TEETH_BAND[1], 0.5 * tall)
    band = (ys > top + 1) & (ys < top + 1 + depth) & (tall > 0)
    across = np.broadcast_to(np.abs(xs - (a[0, :2] @ landmarks[MIDLINE, :2] + a[0, 2])),
                             band.shape)
    profile = np.full(BINS, np.nan)
    for k in range(BINS):
        sel = band & (across >= k * BIN) & (across < (k + 1) * BIN)
        if sel.sum() >= MIN_PIXELS:
            profile[k] = np.median(luma[sel]) / lips_luma
    fine = np.abs(luma - cv2.GaussianBlur(luma, (0, 0), sigmaX=TEXTURE_SIGMA, sigmaY=0.1))
    near = band & (across < TEXTURE_REACH)
    texture = float(fine[near].mean() / lips_luma) if near.sum() >= 2 * MIN_PIXELS else np.nan
    return BandReading(profile, texture)


@dataclass
class BandSummary:
    """Over a video's frames read (`read_band`): their count, the median profile, the fall-off
    (the median profile over its first bin) and the median texture."""

    frames: int
    profile: np.ndarray
    falloff: np.ndarray
    texture: float


def summarise(readings: list[BandReading]) -> BandSummary:
    if not readings:
        nan = np.full(BINS, np.nan)
        return BandSummary(0, nan, nan, float("nan"))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # a bin no frame reaches: nan
        profile = np.nanmedian(np.stack([r.profile for r in readings]), 0)
        texture = float(np.nanmedian([r.texture for r in readings]))
    return BandSummary(len(readings), profile, profile / profile[0], texture)


def video_bands(video: str | Path, frames: int, tracker) -> list[BandReading]:
    """The readings of the first `frames` frames of `video` (at 25 fps) where `tracker` (a
    `vasa.tracking.FaceLandmarker`) finds a face opened MIDDLING or more."""
    out = []
    for i, frame in enumerate(read_frames(video, fps=25)):
        if i >= frames:
            break
        faces = tracker.detect(frame)
        if faces and (r := read_band(frame, faces[0].landmarks)) is not None:
            out.append(r)
    return out
