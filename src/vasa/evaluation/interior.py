"""How dark the inside of an open mouth is, read from a frame's pixels: model-free.

A real mouth opened wide shows a dark cavity between the teeth rows (the throat, the tongue
in shadow); a renderer that stretches the portrait's lips, or a regressor that draws the mean
of the mouths that fit, fills it with a pink or grey blur that reads as a smeared mouth. The
measure is the median luma of the opening's core (the middle half of the mouth's width,
at least a quarter of the column's opening away from either inner lip, so teeth hanging from
the lips are left out) over the median luma of the lips, at frames whose inner lips are at
least WIDE apart. Real held-out speakers' frames set the range it should fall in
(`scripts/interior_report.py`).

Where in the opening the light and the dark lie is read too (`bands`): the same columns cut
into thirds from the upper inner lip to the lower. A real open mouth is light at the top where
the upper teeth show, darkest under them and light and coloured again at the bottom (the
tongue, or the lower lip's inside): the held-out speakers' lower third reads 0.82-1.00 of the
lips' colour at 0.08 IOD and over, 0.87-1.01 at WIDE openings (RD_Radio2, whose lower teeth
show, 0.50). A ring of teeth colour round a grey core (a "mouth guard") reads grey there.

Luma alone cannot tell teeth from lips: a regressor that fills a middling opening with the lips'
own pink reads about as light as teeth. So the core's colour is read too: its median chroma
(distance from grey, `chroma`) over the lips'. Teeth are near grey and the dark of a cavity has
little colour, so a real open mouth's core reads well under its lips (held-out speakers, middling
openings: RD_Radio2 0.36, Obama 0.69, the Wav2Lip speaker 0.78; a 224 px VoxCeleb clip whose
mouth shows only dark, 1.0); a lip-coloured fill reads 1.0 at the lips' luma.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vasa.render import mouth_crop as mc
from vasa.render.interior import LUMA, lip_lines

WIDE = 0.15  # IOD: an opening from which the cavity shows (a lively speaker's widest tenth)
MIDDLING = 0.08  # IOD: from here to WIDE an opening shows some inside (teeth, mostly)
SLIT = 0.03  # IOD: from here to MIDDLING a slit, whose inside real speakers show in shadow
CORE_WIDTH = (0.25, 0.75)  # share of the mouth's width the core spans
CORE_MARGIN = 0.25  # share of a column's opening kept clear of each inner lip
MIN_CORE = 12  # crop pixels: a smaller core is not read
MIN_COLOUR = 4.0  # lips' median chroma (RGB levels) under which a frame has no colour to read
BANDS = 3  # the opening cut from the upper inner lip to the lower: upper teeth, dark, tongue
MIN_BAND = 6  # pixels: a thinner band is not read


def chroma(rgb: np.ndarray) -> np.ndarray:
    """(...) distance of RGB (..., 3) pixels from the grey of their own luma: 0 for grey, white
    and black, the more the more coloured."""
    rgb = np.asarray(rgb, np.float32)
    return np.linalg.norm(rgb - (rgb @ LUMA)[..., None], axis=-1)


@dataclass
class InteriorReading:
    """opening: the inner lips' widest gap over the core columns, IOD; core_ratio: the core's
    median luma over the lips'; core_colour: the core's median chroma over the lips' (both None
    where the core holds under MIN_CORE pixels; the colour also where the lips have none: a
    black-and-white frame); bands: (2, BANDS) luma and colour over the lips' of each third of
    the core columns' opening from the upper lip down (nan: a third under MIN_BAND pixels, or
    no colour; None with the core)."""

    opening: float
    core_ratio: float | None
    core_colour: float | None = None
    bands: np.ndarray | None = None


def read_interior(frame: np.ndarray, landmarks: np.ndarray) -> InteriorReading:
    """The reading of one RGB frame (H, W, 3) uint8 with its pixel landmarks (478, >=2)."""
    a = mc.mouth_affine(landmarks)
    return read_crop(mc.crop(frame, a), mc.lip_points(landmarks, a))


def read_crop(mouth: np.ndarray, lips: np.ndarray) -> InteriorReading:
    """The reading of a mouth crop (CROP, CROP, 3) RGB with its lip points in crop pixels
    (`render.mouth_crop.lip_points`): what `read_interior` reads, for pictures already cropped
    (the refiner's pairs)."""
    rgb = np.asarray(mouth, np.float32)
    crop = rgb @ LUMA
    upper, lower = lip_lines(lips)
    x0, x1 = upper[0, 0], upper[-1, 0]
    xs = np.arange(mc.CROP, dtype=np.float64)
    top, bottom = np.interp(xs, upper[:, 0], upper[:, 1]), np.interp(xs, lower[:, 0], lower[:, 1])
    share = (xs - x0) / max(x1 - x0, 1e-6)
    cols = (share >= CORE_WIDTH[0]) & (share <= CORE_WIDTH[1])
    tall = np.where(cols, bottom - top, 0.0)
    opening = float(tall.max()) / mc.PX_PER_IOD
    ys = np.arange(mc.CROP, dtype=np.float64)[:, None]
    margin = CORE_MARGIN * tall
    core = cols & (ys >= top + margin) & (ys <= bottom - margin) & (tall > 0)
    outer, inner = mc.lip_masks(lips) > 0.5
    ring = outer & ~inner
    if core.sum() < MIN_CORE or not ring.any():
        return InteriorReading(opening, None)
    lips_luma = max(float(np.median(crop[ring])), 1.0)
    lips_colour = float(np.median(chroma(rgb[ring])))
    colour = (float(np.median(chroma(rgb[core]))) / lips_colour if lips_colour >= MIN_COLOUR
              else None)
    # Thirds of each core column's opening, inner lip lines left out.
    third = np.floor(BANDS * (ys - top) / np.maximum(tall, 1e-6))
    inside = cols & (ys > top) & (ys < bottom) & (tall > 0)
    bands = np.full((2, BANDS), np.nan)
    for k in range(BANDS):
        sel = inside & (third == k)
        if sel.sum() >= MIN_BAND:
            bands[0, k] = np.median(crop[sel]) / lips_luma
            if lips_colour >= MIN_COLOUR:
                bands[1, k] = np.median(chroma(rgb[sel])) / lips_colour
    return InteriorReading(opening, float(np.median(crop[core]) / lips_luma), colour, bands)


@dataclass
class InteriorSummary:
    """Over a video's frames: wide_share, the share opened at least WIDE; wide and middling,
    the median core ratio at those frames and at MIDDLING-WIDE (None where there are none);
    the frame counts behind them; middling_colour, the median core colour at MIDDLING-WIDE
    (None where none was read: no such frame, or a black-and-white video); slit, the median
    core ratio at SLIT-MIDDLING, and its frames."""

    frames: int
    wide_share: float
    wide: float | None
    wide_frames: int
    middling: float | None
    middling_frames: int
    middling_colour: float | None = None
    bands: np.ndarray | None = None  # (2, BANDS) medians at WIDE openings; nan: none read
    slit: float | None = None  # the median core ratio at SLIT-MIDDLING
    slit_frames: int = 0


def summarise(readings: np.ndarray) -> InteriorSummary:
    """The summary of (T, 3) readings: opening (IOD), core ratio and core colour (nan where
    unread); (T, 2) readings have no colour; (T, 3 + 2 * BANDS) ones add the bands' luma and
    colour (`read_interior`)."""
    r = np.asarray(readings, np.float64)
    r = r.reshape(-1, r.shape[-1] if r.ndim == 2 else 2)

    def median(sel: np.ndarray, column: int = 1) -> tuple[float | None, int]:
        if column >= r.shape[1]:
            return None, 0
        v = r[sel, column]
        v = v[np.isfinite(v)]
        return (float(np.median(v)) if len(v) else None), len(v)

    wide, mid = r[:, 0] >= WIDE, (r[:, 0] >= MIDDLING) & (r[:, 0] < WIDE)
    (w, nw), (m, nm) = median(wide), median(mid)
    sl, nsl = median((r[:, 0] >= SLIT) & (r[:, 0] < MIDDLING))
    bands = None
    if r.shape[1] >= 3 + 2 * BANDS:
        read = [median(wide, 3 + i)[0] for i in range(2 * BANDS)]
        bands = np.array([np.nan if v is None else v for v in read]).reshape(2, BANDS)
    return InteriorSummary(len(r), float(wide.mean()) if len(r) else 0.0, w, nw, m, nm,
                           median(mid, 2)[0], bands, sl, nsl)


def video_readings(video: str | Path, frames: int, tracker) -> np.ndarray:
    """(T, 3 + 2 * BANDS) readings of the first `frames` frames of `video` (at 25 fps) where
    `tracker` (a `vasa.tracking.FaceLandmarker`) finds a face: opening (IOD), core ratio, core
    colour, then the bands' luma and colour (nan: unread)."""
    from vasa.io import read_frames  # here: the readings above also serve the refiner's
    # training, which runs where PyAV is not installed

    out = []
    for i, frame in enumerate(read_frames(video, fps=25)):
        if i >= frames:
            break
        faces = tracker.detect(frame)
        if faces:
            r = read_interior(frame, faces[0].landmarks)
            bands = np.full(2 * BANDS, np.nan) if r.bands is None else r.bands.ravel()
            out.append((r.opening, np.nan if r.core_ratio is None else r.core_ratio,
                        np.nan if r.core_colour is None else r.core_colour, *bands))
    return np.array(out, np.float64).reshape(-1, 3 + 2 * BANDS)


def upper_band(mouths: np.ndarray, lips: np.ndarray) -> np.ndarray:
    """(N,) the upper third of each mouth crop's opening (N, CROP, CROP, 3), luma over the
    lips' (`read_crop`'s first band: the upper teeth where they show); nan where the mouth
    opens under MIDDLING or the band is not read. lips: (N, 40, 2) in crop pixels."""
    out = np.full(len(mouths), np.nan)
    for i, (m, p) in enumerate(zip(mouths, lips)):
        r = read_crop(m, p)
        if r.opening >= MIDDLING and r.bands is not None:
            out[i] = r.bands[0, 0]
    return out
