"""The inside of a mouth that opens wider than the portrait's: the portrait's own teeth keep
their size, and the dark of the mouth opens between them.

The warp maps the portrait's mouth opening onto the target's with the triangles inside the
inner-lip contour, so an opening wider than the portrait's stretches whatever the portrait
shows there. On a smile that shows its teeth, 0.2 eye distances over the talking rest (a
lively speaker's widest tenth) drew the teeth as a tall glowing white blob (the bundled
astronaut, Alex Lacamoire, Marilyn Monroe), and the refiner, which takes its colours from the warp, kept
it. A mouth does not open that way: the upper teeth stay with the upper lip, the lower teeth
with the jaw, and the cavity opens between them.

`MouthInterior` redraws the opening so, from the portrait's own pixels at full resolution. Per
column of the upright mouth (`mouth_crop`'s frame; a target column takes the portrait's column
at the same share of the mouth's width), the top half of the portrait's opening follows the
upper inner lip and the bottom half the lower one, each at its own size, and the band between
them takes the portrait's darkest inside colour. Columns stretched less than 1.3x are left to
the warp (teeth stretched a little still look like teeth), and a portrait with its lips
together has nothing to keep (the opening is the refiner's to invent). The refiner then
starts from the redrawn opening, and each column's share that was redrawn is not pasted
over (`MouthRefiner`'s `redrawn`): taken whole, the refined crop turned the teeth into a soft
white band and the cavity grey; low-passed, it laid a metallic grey sheen over the cavity. The
columns left (towards the corners, where the portrait's own opening is a slit) are the
refiner's: kept off them too, their stretched teeth stood as streaks.

A slit that shows white teeth (`MouthInterior.slit_teeth`) has too few rows to keep, and
stretched, its teeth fill the opening with white: before the redraw and the refiner it is
taken to the cavity's dark below the upper teeth's band (`MouthInterior.clear_slit`), on a
portrait whose lips are barely apart wherever the redraw does not reach.

Where the portrait has no teeth of its own to keep (lips together, or a slit), the refiner
invents the inside, and at wide openings it drew the mean of the mouths that fit: a pink blur
(the "sad" portrait), a grey smear (Taylor Swift). After the refiner, such an opening is
given the order of a real one from the upper lip down: upper teeth, dark, tongue.
`MouthInterior.whiten` gives the light of the upper teeth's band the colour of teeth in the
portrait's light and a little more light (at middling openings the refiner drew the lips' own
pink there, which reads as lips pressed together; the WHITEN_* and TEETH_* constants), and
`MouthInterior.deepen` takes a wide opening between the teeth and the tongue towards the
portrait's lips in deep shadow (the DEEPEN_* and CAVITY_* constants), so it reads as open. The
tongue keeps the colour the refiner drew: whitened and with the dark centred, the inside read
as a grey ring round a dark bar, a mouth guard.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vasa.render import mouth_crop as mc

DARKEST = 0.2  # the cavity's colour: the mean of this darkest share of the opening's pixels,
# but no lighter than the lips' luma times CAVITY_SHADE, with CAVITY_CHROMA of their colour
# (the dark of real wide mouths keeps much of the lips' colour: Christie's upper and middle
# thirds 0.90-0.97 of the lips' chroma at 0.19-0.64 of their luma, `scripts/interior_report.py`;
# the lips' colour scaled down with their light read as a grey bar),
CAVITY_SHADE, CAVITY_CHROMA = 0.35, 0.6
CAVITY_DEPTH = 0.45  # and darker by this share at the middle of the cavity
STRETCH_FROM, STRETCH_FULL = 1.3, 1.8  # a column's height over the portrait's opening there
# Crop pixels of the portrait's own opening in a column from which its teeth are kept, and
# over which they fade in; a portrait's opening lower than OWN_START on average shows none.
OWN_START, OWN_RAMP = 5.0, 4.0
# A slit that shows teeth: too few rows to keep (under OWN_START), yet white. Stretched by the
# warp, its teeth fill a wide opening with a tall white blob, which the refiner turned into a
# milky fog, dark under the upper lip and light at the bottom (Taylor Swift's portrait, a 3.8
# px opening 56% of whose pixels are lighter than her lips: the order of a real mouth upside
# down). A mouth does not show more teeth as it opens, so under the upper teeth's band the
# stretched slit is taken to the cavity's dark before the refiner (`MouthInterior.clear_slit`),
# which then starts from upper teeth over dark, as from a mouth opening a little. How far a
# slit shows teeth: the share of its pixels over TEETH_LIGHT of the lips' luma, none up to
# TEETH_SHOWN[0], in full from TEETH_SHOWN[1] (a ramp, not a cliff between two look-alike
# portraits), on a slit open SLIT_ROWS[0] crop px and more (in full from SLIT_ROWS[1]). Of the
# public portraits whose lips part less than OWN_START, Taylor Swift's reads 0.56 and s1's
# 0.10; the held-out speakers' first frames 0.14-0.28 (dark slits, whose stretch the refiner
# draws teeth from, `_strength`: they are left as they are). A portrait whose opening is just
# over OWN_START keeps its teeth only in the few columns open over OWN_START (the redraw
# fades in over OWN_RAMP): beside them the same stretched teeth stood as white streaks, and
# the redrawn middle as a dark box with square ends (frames of the dataset's videos opened
# 5-9 crop px, 30-61% light), so its columns are cleared as far as the redraw leaves them.
SLIT_ROWS, TEETH_SHOWN, TEETH_LIGHT = (1.5, 2.5), (0.3, 0.5), 1.1
# Where the portrait holds no teeth to keep (a slit or shut lips), the refiner invents the
# inside and draws the mean of the mouths that fit: a pink or grey blur that reads as a smeared
# mouth once the lips are far apart. Where things lie in a real open mouth, from the upper
# inner lip down: the upper teeth (TEETH_BAND crop px of them show, in full, then fading out),
# the dark under them, and from TONGUE of the column's opening down the tongue (or the lower
# lip's inside), light and coloured again: the lower third of held-out speakers' openings
# (0.08 IOD and over) reads 0.82-1.00 of the lips' colour at 0.93-1.23 of their luma (Obama,
# d14, Christie, Patrick Stewart, the Wav2Lip speaker; 0.87-1.01 at wide ones), but for
# RD_Radio2's lower teeth, 0.50 (`InteriorReading.bands`, interior_thirds.md in
# benchmarks/results). The light below the upper teeth keeps its colour once the mouth's
# widest column is TONGUE_FROM crop px open (in full from TONGUE_FULL): whitened too, a
# middling opening scored a little better on Obama's clips, whose lower teeth show (0.05-0.1
# dB of mouth PSNR), and read as a ring of teeth round the dark as the mouth opened wide.
TEETH_BAND = (0.05 * mc.PX_PER_IOD, 0.09 * mc.PX_PER_IOD)
TONGUE = (0.55, 0.85)  # share of a column's opening below the upper lip: none, full
TONGUE_FROM, TONGUE_FULL = 0.10 * mc.PX_PER_IOD, 0.15 * mc.PX_PER_IOD
# From an opening of DEEPEN_FROM (in full from DEEPEN_FULL) the dark between the teeth and the
# tongue is taken towards the cavity colour, by at most DEEPEN_MAX. Under 0.15 IOD real
# mouths show their teeth at the core (held-out speakers: 1.1-1.2x the lips' luma); wider,
# their teeth or the dark (Obama 1.0x, RD_Radio2 0.43x, Christie 0.60x), never a
# lip-coloured blur. (Centred on the opening, clear of a band along each lip, the dark sat
# in a ring of whitened tongue and teeth: a mouth guard.)
DEEPEN_FROM, DEEPEN_FULL = 0.15 * mc.PX_PER_IOD, 0.25 * mc.PX_PER_IOD
DEEPEN_MAX = 0.8
DEEPEN_ENDS = 0.2  # share of the mouth's width over which it fades out towards each corner
# The upper teeth of an opening the portrait had no teeth for: the refiner, whose reference
# is the portrait's shut lips, fills a middling opening with their pink (the "sad" portrait,
# RD_Radio2's speech: the core's chroma 1.02x the lips', where the real speaker's teeth read
# 0.36x; `vasa.evaluation.interior`), which reads as lips pressed together. Teeth take the
# light's colour, as the skin does: the light core of real open mouths (0.08 IOD and over;
# RD_Radio2, EDTalk's Obama, the Wav2Lip speaker, LivePortrait d12 and d14) has the hue of the
# skin round the lips (cosine 0.91-0.99) at 0.41-0.92 of its chroma (median 0.72). So from a
# column opening of WHITEN_FROM crop px (in full from WHITEN_FULL), clear of WHITEN_EDGE px
# along each inner lip (their own colour), pixels of the teeth's band (TEETH_BAND) lighter
# than LIGHT_FROM of the lips' luma (in full from LIGHT_FULL: the dark of a cavity keeps its
# colour) take TEETH_TINT of the colour of the skin within SKIN_RING px of the lips (at 0.35
# of it they looked blue-grey against warm skin; a black-and-white portrait's skin has none
# to give), and TEETH_LIFT more light: real teeth are lighter than the lips (the middling core
# 1.10x their luma on RD_Radio2, 1.03x over the ablation's held-out clips) where the
# refiner's band reads 0.89x and 0.86x. Below the teeth's band, only at small openings (under
# TONGUE_FROM, above).
WHITEN_FROM, WHITEN_FULL = 0.03 * mc.PX_PER_IOD, 0.06 * mc.PX_PER_IOD
WHITEN_EDGE = 1.0
LIGHT_FROM, LIGHT_FULL = 0.6, 0.85
TEETH_TINT = 0.7
TEETH_LIFT = 0.2
SKIN_RING = 15
# The light of an opening the portrait had no teeth for, after the refiner and `whiten`: its
# core's median luma (the middle half of the mouth's width, clear of the lips) is held to at
# most SHADE_LIGHT[0] of the lips' luma while its widest column is open up to SHADE_AT[0], and
# SHADE_LIGHT[1] from SHADE_AT[1] (linear between): the whole inside scaled down, so the teeth
# keep their texture. The refiner drew the teeth of pale-lipped portraits fully lit even in a
# slit (Angelina Jolie, s1, the s3 painting on RD_Radio2's voice: the core 1.0-1.1x the lips'
# luma at 0.02-0.05 IOD, 1.3-1.6x at 0.08-0.15), a glowing white line between the lips; real
# held-out speakers' teeth sit in the lips' shadow: 0.32-0.76x at 0.02-0.05 IOD, 0.34-1.07x
# at 0.05-0.08, 0.23-1.14x at 0.08-0.15 (RD_Radio2, Obama, the Wav2Lip speaker, PC-AVS 00015,
# LivePortrait d12; `vasa.evaluation.interior`). The slit's ceiling is about the brightest of
# those; the middling one is above it: held to 1.1 (or to the skin's light: teeth_band.md in
# benchmarks/results), a band with no tooth edges in it read as dull grey fill, not teeth.
SHADE_AT = (0.04 * mc.PX_PER_IOD, 0.08 * mc.PX_PER_IOD)
SHADE_LIGHT = (0.8, 1.25)
SHADE_CORE = (0.25, 0.75)  # share of the mouth's width read (`evaluation.interior`'s core)
SHADE_MIN = 12  # core pixels under which the light is not read
_UPPER = slice(mc.NUM_OUTER, mc.NUM_OUTER + 11)  # LIPS_INNER_UPPER: corner, upper lip, corner
LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # RGB weights of brightness (Rec. 601)


def lip_lines(lips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The upper and lower inner lip lines (n, 2) of (40, 2) crop points (`mouth_crop.lips`),
    each from one mouth corner to the other with x rising (the crop is upright)."""
    upper = lips[_UPPER]
    lower = np.concatenate([lips[_UPPER.stop - 1:_UPPER.stop], lips[_UPPER.stop:],
                            lips[_UPPER.start:_UPPER.start + 1]])
    lines = []
    for line in (upper, lower):
        line = line[np.argsort(line[:, 0], kind="stable")].astype(np.float64)
        line[:, 0] = np.maximum.accumulate(line[:, 0])  # np.interp needs x rising
        lines.append(line)
    return lines[0], lines[1]


def _at(line: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.interp(x, line[:, 0], line[:, 1])


def _target(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(affine, upper, lower): a frame's mouth crop and its inner lip lines in it."""
    a = mc.mouth_affine(landmarks)
    upper, lower = lip_lines(mc.lip_points(landmarks, a))
    return a, upper, lower


def _columns(upper: np.ndarray) -> np.ndarray:
    """32 crop x positions across the mouth, corners left out: the cheap checks' columns."""
    return np.linspace(upper[0, 0], upper[-1, 0], 34)[1:-1]


def _strength(tall: np.ndarray, own: np.ndarray, share: np.ndarray) -> np.ndarray:
    """How far a column `tall` crop pixels high, where the portrait's is `own`, is redrawn (0..1;
    none at `share` of the mouth's width outside (0, 1): past the corners).
    Not at all until it is STRETCH_FROM times the portrait's, in full from STRETCH_FULL: teeth
    stretched a little look like teeth (and lips often part with the teeth kept together: on
    held-out RD_Radio2, redrawn from 1 px taller, the teeth split where hers stayed shut, 0.4 dB
    of mouth PSNR), and a tilted head changes the upright height a little, where a cavity line
    flickering across the teeth would be the redraw's own artifact. The blob is a stretch of
    2-3x. Nor where the portrait's own opening is a slit: its few
    rows hold no teeth to keep, and the refiner, trained on such slits stretched, draws teeth
    the redraw would not (held-out self-reenactment, mouth PSNR under the stretched warp's:
    0.75 dB on Obama from a 2 px slit redrawn, 0.6 dB from a 4.6 px opening with the redraw
    fading in from 3 px; from 5 px, 0.0 and 0.05 dB on the clips whose openings it reaches)."""
    return (_stretch(tall, own) * np.clip((own - OWN_START) / OWN_RAMP, 0.0, 1.0)
            * ((share > 0) & (share < 1)))


def _stretch(tall: np.ndarray, own: np.ndarray) -> np.ndarray:
    """0..1: how far a column `tall` crop pixels high is stretched past the portrait's `own`
    (none up to STRETCH_FROM times it, in full from STRETCH_FULL)."""
    return np.clip((tall / np.maximum(own, 1e-6) - STRETCH_FROM) / (STRETCH_FULL - STRETCH_FROM),
                   0.0, 1.0)


@dataclass
class _Box:
    """A frame's pixel box round a target opening (x0:x1, y0:y1) and each of its pixels in the
    upright crop (cx, cy)."""

    x0: int
    y0: int
    x1: int
    y1: int
    cx: np.ndarray
    cy: np.ndarray

    @classmethod
    def around(cls, frame: np.ndarray, a: np.ndarray, upper: np.ndarray, lower: np.ndarray
               ) -> _Box | None:
        inv = cv2.invertAffineTransform(a)
        ring = np.concatenate([upper, lower]) @ inv[:, :2].T + inv[:, 2]
        h, w = frame.shape[:2]
        x0, y0 = np.clip(np.floor(ring.min(0)).astype(int) - 1, 0, [w, h])
        x1, y1 = np.clip(np.ceil(ring.max(0)).astype(int) + 2, 0, [w, h])
        if x1 <= x0 or y1 <= y0:
            return None
        gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float64),
                             np.arange(y0, y1, dtype=np.float64))
        return cls(int(x0), int(y0), int(x1), int(y1), a[0, 0] * gx + a[0, 1] * gy + a[0, 2],
                   a[1, 0] * gx + a[1, 1] * gy + a[1, 2])


@dataclass
class _Inside:
    """A target opening's pixels in its `box` (each array (h, w)): the height of each pixel's
    column (crop px), its share of the mouth's width, its distance to the nearer inner lip
    (`edge`, crop px), the portrait's own opening in its column (`own`, crop px), `slit`, 1
    where that holds no teeth to keep, 0 where it does, and where it lies from the upper lip
    down: in the upper teeth's band (`teeth`, 1 to 0 over TEETH_BAND) and on the tongue
    (`tongue`, 0 to 1 over TONGUE). widest: the tallest of the opening's checked columns (crop
    px)."""

    box: _Box
    widest: float
    tall: np.ndarray
    share: np.ndarray
    slit: np.ndarray
    edge: np.ndarray
    own: np.ndarray
    teeth: np.ndarray
    tongue: np.ndarray


def _smooth(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


class MouthInterior:
    """One portrait's mouth interior: `__call__(frame, landmarks)` redraws a frame's opening in
    place where it is taller than the portrait's (before the refiner); after it,
    `after_refiner(frame, landmarks)`, where the portrait had no teeth to keep, gives an
    opening's light inside the teeth's colour (`whiten`), holds it under a real mouth's light
    (`shade`) and darkens a wide opening's core (`deepen`). `active`: the portrait shows an
    opening; `slit_teeth` (0..1): how far its opening shows teeth, cleared that far before the
    redraw and the refiner where they are too thin to keep (`clear_slit`)."""

    def __init__(self, image: np.ndarray, landmarks: np.ndarray) -> None:
        a = mc.mouth_affine(landmarks)
        self.image = image
        self.to_image = cv2.invertAffineTransform(a)  # portrait crop -> portrait pixels
        self.upper, self.lower = lip_lines(mc.lip_points(landmarks, a))
        xs = np.linspace(self.upper[0, 0], self.upper[-1, 0], 32)
        opening = float(np.mean(np.maximum(_at(self.lower, xs) - _at(self.upper, xs), 0)))
        self.active = opening >= OWN_START
        crop = mc.crop(image, a).astype(np.float32)
        outer, inner = mc.lip_masks(mc.lip_points(landmarks, a)) > 0.5
        # No lighter than the lips in deep shadow: a smile whose teeth fill its opening has no
        # dark of its own (the astronaut's darkest fifth is grey teeth), a shut mouth none.
        lips = crop[outer & ~inner]
        rgb = np.median(lips, 0).astype(np.float32)
        self.lips_luma = max(float(np.median(lips @ LUMA)), 1.0)
        self.cavity = CAVITY_SHADE * (rgb @ LUMA) + CAVITY_CHROMA * (rgb - rgb @ LUMA)
        # Teeth take the light's colour, which the skin shows too: the skin's colour round the
        # lips (its luma taken out), TEETH_TINT as strong (none on a grey portrait).
        near = cv2.dilate(outer.astype(np.uint8), np.ones((SKIN_RING, SKIN_RING), np.uint8)) > 0
        skin = np.median(crop[near & ~outer], 0).astype(np.float32)
        self.teeth_tint = TEETH_TINT * (skin - skin @ LUMA)
        if self.active:
            pixels = crop[inner]
            luma = pixels @ LUMA
            self.cavity = np.minimum(pixels[luma <= np.quantile(luma, DARKEST)].mean(0),
                                     self.cavity)
        light = (float(np.mean(crop[inner] @ LUMA > TEETH_LIGHT * self.lips_luma))
                 if inner.any() else 0.0)
        self.slit_teeth = float(
            _smooth((opening - SLIT_ROWS[0]) / (SLIT_ROWS[1] - SLIT_ROWS[0]))
            * _smooth((light - TEETH_SHOWN[0]) / (TEETH_SHOWN[1] - TEETH_SHOWN[0])))

    def _source_column(self, x: np.ndarray, upper: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(share, x, top, bottom): for target crop x over a target's upper lip line, its share
        of the mouth's width and the portrait's column at the same share, with the portrait's
        inner lip lines there."""
        share = (x - upper[0, 0]) / max(upper[-1, 0] - upper[0, 0], 1e-6)
        sx = self.upper[0, 0] + np.clip(share, 0, 1) * (self.upper[-1, 0] - self.upper[0, 0])
        return share, sx, _at(self.upper, sx), _at(self.lower, sx)

    def _stretched(self, upper: np.ndarray, lower: np.ndarray) -> bool:
        """Whether any column of a target opening is to be redrawn (checked on 32 columns)."""
        return bool(self._column_strength(_columns(upper), upper, lower).any())

    def __call__(self, frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """Redraw the opening of `frame` (H, W, 3) uint8 in place, for its pixel `landmarks`
        (478, >=2). Returns, per column of the mouth crop ((CROP,) in 0..1), how much of the
        opening is now the portrait's own teeth and cavity, which the refiner keeps; the rest
        of the opening (columns stretched little, or where the portrait's own opening is a
        slit: towards the corners) is the stretched warp, which the refiner redraws."""
        none = np.zeros(mc.CROP, np.float32)
        if self.slit_teeth > 0:
            self.clear_slit(frame, landmarks)  # what the redraw leaves, the refiner redraws
        if not self.active:
            return none
        a, upper, lower = _target(landmarks)
        if not self._stretched(upper, lower):
            return none  # the warp's own interior stands
        box = _Box.around(frame, a, upper, lower)
        if box is None:
            return none
        x0, y0, x1, y1, cx, cy = box.x0, box.y0, box.x1, box.y1, box.cx, box.cy
        top, bottom = _at(upper, cx), _at(lower, cx)
        tall = bottom - top
        share, sx, s_top, s_bottom = self._source_column(cx, upper)
        own = np.maximum(s_bottom - s_top, 0.0)
        strength = _strength(tall, own, share)
        d_top, d_bottom = cy - top, bottom - cy
        sy = np.where(d_top <= d_bottom, s_top + d_top, s_bottom - d_bottom)
        # Teeth (the portrait's pixels) within half its opening of either lip, the cavity
        # between; one crop pixel of blend at each edge.
        teeth = np.clip(0.5 * own - np.minimum(d_top, d_bottom) + 0.5, 0.0, 1.0)
        inside = np.clip(np.minimum(d_top, d_bottom) + 0.5, 0.0, 1.0) * strength
        t = self.to_image
        mx = (t[0, 0] * sx + t[0, 1] * sy + t[0, 2]).astype(np.float32)
        my = (t[1, 0] * sx + t[1, 1] * sy + t[1, 2]).astype(np.float32)
        own_pixels = cv2.remap(self.image, mx, my, cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        # The cavity darkens away from the teeth, as the mouth deepens (flat, it read as a
        # painted band).
        depth = np.clip((np.minimum(d_top, d_bottom) - 0.5 * own)
                        / np.maximum(0.5 * (tall - own), 1.0), 0.0, 1.0)
        cavity = self.cavity * (1.0 - CAVITY_DEPTH * depth)[..., None]
        drawn = teeth[..., None] * own_pixels + (1 - teeth[..., None]) * cavity
        box = frame[y0:y1, x0:x1].astype(np.float32)
        box += inside[..., None] * (drawn - box)
        frame[y0:y1, x0:x1] = np.clip(box + 0.5, 0, 255).astype(np.uint8)
        return self._column_strength(np.arange(mc.CROP, dtype=np.float64), upper,
                                     lower).astype(np.float32)

    def _column_strength(self, x: np.ndarray, upper: np.ndarray, lower: np.ndarray
                         ) -> np.ndarray:
        """How far the target opening's crop column(s) at `x` are redrawn (0..1, x's shape):
        `_strength` of the column's height against the portrait's opening at the same share
        of the mouth's width."""
        return _strength(*self._heights(x, upper, lower))

    def _heights(self, x: np.ndarray, upper: np.ndarray, lower: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tall, own, share) of the target opening's crop column(s) at `x`: its height, the
        portrait's opening at the same share of the mouth's width (crop px), and that share."""
        share, _, s_top, s_bottom = self._source_column(x, upper)
        return _at(lower, x) - _at(upper, x), np.maximum(s_bottom - s_top, 0.0), share

    def after_refiner(self, frame: np.ndarray, landmarks: np.ndarray, whiten: bool = True
                      ) -> None:
        """Where the portrait had no teeth of its own to keep, in place, after the refiner: an
        opening's light inside takes the teeth's colour (`whiten`; skipped with whiten=False),
        is held under the light a real mouth that open shows (`shade`), and a wide one's core
        is darkened (`deepen`). The opening's geometry is found once."""
        o = self._inside(frame, *_target(landmarks))
        if o is None:
            return
        if whiten:
            self.whiten(frame, o)
        self.shade(frame, o)
        if o.widest > DEEPEN_FROM:
            self.deepen(frame, o)

    def _inside(self, frame: np.ndarray, a: np.ndarray, upper: np.ndarray, lower: np.ndarray
                ) -> _Inside | None:
        """A frame's opening (its mouth crop `a` and inner lip lines, `_target`), where any of
        its columns is over WHITEN_FROM crop pixels high (None elsewhere): its pixel box and,
        per pixel, the column's height, share of the mouth's width and nearness to the
        middle, and how little of the portrait's own teeth the warp or the redraw shows
        there (`slit`)."""
        x = _columns(upper)
        widest = float(np.max(_at(lower, x) - _at(upper, x)))
        if widest <= WHITEN_FROM:
            return None
        box = _Box.around(frame, a, upper, lower)
        if box is None:
            return None
        top, bottom = _at(upper, box.cx), _at(lower, box.cx)
        tall = bottom - top
        share, _, s_top, s_bottom = self._source_column(box.cx, upper)
        own = np.maximum(s_bottom - s_top, 0.0)
        slit = 1.0 - np.clip((own - OWN_START) / OWN_RAMP, 0.0, 1.0)
        below = box.cy - top  # crop px under the upper lip
        teeth = 1.0 - _smooth((below - TEETH_BAND[0]) / (TEETH_BAND[1] - TEETH_BAND[0]))
        tongue = _smooth((below / np.maximum(tall, 1.0) - TONGUE[0]) / (TONGUE[1] - TONGUE[0]))
        return _Inside(box, widest, tall, share, slit, np.minimum(below, bottom - box.cy), own,
                       teeth, tongue)

    def clear_slit(self, frame: np.ndarray, landmarks: np.ndarray) -> float:
        """Before the redraw and the refiner, where the portrait's opening shows teeth
        (`slit_teeth`): take the stretched teeth of `frame` (H, W, 3) uint8's opening under the
        upper teeth's band (TEETH_BAND) to the cavity's colour, in place, as far as the column
        is stretched, its own opening is too thin to keep (all of a slit's; an open mouth's
        `_Inside.slit`, what the redraw leaves) and the portrait's shows teeth. Returns the
        largest weight used (0: nothing changed)."""
        a, upper, lower = _target(landmarks)
        tall, own, _ = self._heights(_columns(upper), upper, lower)
        if not _stretch(tall, own).any():  # a cheap look on 32 columns: most frames stretch none
            return 0.0
        o = self._inside(frame, a, upper, lower)
        if o is None:
            return 0.0
        thin = o.slit if self.active else 1.0
        weight = (self.slit_teeth * thin * np.clip(o.edge + 0.5, 0.0, 1.0) * (1.0 - o.teeth)
                  * _stretch(o.tall, o.own) * ((o.share > 0) & (o.share < 1)))
        if not weight.any():
            return 0.0
        box = o.box
        pixels = frame[box.y0:box.y1, box.x0:box.x1].astype(np.float32)
        pixels += weight[..., None] * (self.cavity - pixels)
        frame[box.y0:box.y1, box.x0:box.x1] = np.clip(pixels + 0.5, 0, 255).astype(np.uint8)
        return float(weight.max())

    def deepen(self, frame: np.ndarray, o: _Inside) -> float:
        """Darken, in place, a wide opening `o` of `frame` (H, W, 3) uint8 between the upper
        teeth and the tongue where the portrait had no teeth of its own to keep there (after the
        refiner: the teeth and the tongue it drew stay). Returns the largest weight used (0:
        nothing changed)."""
        core = (1.0 - o.teeth) * (1.0 - o.tongue)
        # Faded towards the corners: cut off square, it read as a dark bar laid in the mouth.
        ends = _smooth(np.minimum(o.share, 1.0 - o.share) / DEEPEN_ENDS)
        # (slit: columns whose own teeth the warp or the redraw shows are left as they are.)
        weight = (DEEPEN_MAX * o.slit * core * ends
                  * _smooth((o.tall - DEEPEN_FROM) / (DEEPEN_FULL - DEEPEN_FROM)))
        if not weight.any():
            return 0.0
        # Deeper towards the middle, as the redraw's cavity.
        cavity = self.cavity * (1.0 - CAVITY_DEPTH * core)[..., None]
        box = o.box
        pixels = frame[box.y0:box.y1, box.x0:box.x1].astype(np.float32)
        pixels += weight[..., None] * (cavity - pixels)
        frame[box.y0:box.y1, box.x0:box.x1] = np.clip(pixels + 0.5, 0, 255).astype(np.uint8)
        return float(weight.max())

    def shade(self, frame: np.ndarray, o: _Inside) -> float:
        """Scale down, in place, the light inside an opening `o` of `frame` (H, W, 3) uint8
        where the portrait had no teeth to keep, so that its core's median luma is at most the
        ceiling for its opening (SHADE_*). Returns the scale of the core (1: unchanged)."""
        inside = o.slit * _smooth(o.edge / WHITEN_EDGE)
        core = (inside > 0.5) & (o.share > SHADE_CORE[0]) & (o.share < SHADE_CORE[1])
        if core.sum() < SHADE_MIN:
            return 1.0
        box = o.box
        pixels = frame[box.y0:box.y1, box.x0:box.x1].astype(np.float32)
        light = float(np.median(pixels[core] @ LUMA))
        ceiling = self.lips_luma * float(np.interp(o.widest, SHADE_AT, SHADE_LIGHT))
        k = min(1.0, ceiling / max(light, 1e-3))
        if k >= 1.0:
            return 1.0
        # Shadowed teeth are warm grey: scaled alone, white teeth between red lips read as
        # grey-green; the darkened share takes the colour of the light (`teeth_tint`) instead.
        scale = (1.0 - inside * (1.0 - k))[..., None]
        pixels = pixels * scale + (1.0 - scale) * self.teeth_tint
        frame[box.y0:box.y1, box.x0:box.x1] = np.clip(pixels + 0.5, 0, 255).astype(np.uint8)
        return k

    def whiten(self, frame: np.ndarray, o: _Inside) -> float:
        """Take the lips' colour out of the light inside of an opening `o` of `frame` (H, W, 3)
        uint8, in place, where the portrait had no teeth of its own to keep (after the
        refiner): pixels lighter than LIGHT_FROM of the lips take the colour of teeth in the
        portrait's light (`teeth_tint`; none on a black-and-white portrait) and up to
        TEETH_LIFT more luma; once the mouth is open TONGUE_FROM, the upper teeth's band only.
        Returns the largest weight used."""
        weight = (o.slit * _smooth((o.edge - WHITEN_EDGE) / WHITEN_EDGE)
                  * _smooth((o.tall - WHITEN_FROM) / (WHITEN_FULL - WHITEN_FROM))
                  * ((o.share > 0) & (o.share < 1)))
        # An open mouth's tongue keeps its colour, to the corners (the whole mouth is open).
        wide = _smooth((o.widest - TONGUE_FROM) / (TONGUE_FULL - TONGUE_FROM))
        weight = weight * (1.0 - (1.0 - o.teeth) * wide)
        if not weight.any():
            return 0.0
        box = o.box
        pixels = frame[box.y0:box.y1, box.x0:box.x1].astype(np.float32)
        luma = pixels @ LUMA
        weight = weight * _smooth((luma / self.lips_luma - LIGHT_FROM)
                                  / (LIGHT_FULL - LIGHT_FROM))
        colour = pixels - luma[..., None]
        pixels = ((luma * (1.0 + TEETH_LIFT * weight))[..., None] + colour
                  + weight[..., None] * (self.teeth_tint - colour))
        frame[box.y0:box.y1, box.x0:box.x1] = np.clip(pixels + 0.5, 0, 255).astype(np.uint8)
        return float(weight.max())
