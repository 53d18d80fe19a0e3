"""Paste back: the animated crop returned into the portrait's own picture (issue 13).

The renderer animates an aligned square crop of the face. The output a user expects is the
picture they gave, so, as LivePortrait's "paste back" does, each rendered crop is put back
where it was cut from (the inverse of `Framing.to_crop`) and blended into the still picture
through a weight that is 1 over the head and falls to 0 at the crop's edge. The renderer of a
framed portrait holds the crop's edges and the picture's still (`render.picture_edge`): the
head's motion fades out toward them, so the crop meets the still picture without a seam and
nothing is seen twice.

What is pasted never comes from outside the picture. Where the crop reaches past the picture's
edge it holds a mirror of it (`portrait.cut_crop`): the renderer may warp some of that into
view when the head moves, so each frame's weight also follows the renderer's source map
(`Renderer.flow`): a rendered pixel whose source lies outside the picture (or the crop), or
within MARGIN_PX of its edge (`render.picture_edge`), gets weight 0 and the still picture
shows instead.

With a person matte (`render.matte`, made once per portrait) the rendered crop is first composed
over the still picture: the person where the warp puts it (the matte warped through the same
source map), the still picture elsewhere, and a clean background plate where the person was
and no longer is. The backdrop then never moves, and what the head uncovers is backdrop.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from vasa.portrait import Framing
from vasa.render.matte import PersonMatte, person_matte
from vasa.render.picture_edge import FADE, edge_ramp, on_picture, within_crop
from vasa.render.renderer import Renderer, Warped
from vasa.timing import StageClock

UNCOVER_GAIN = 4  # the plate shows fully where a quarter of the still person's alpha is gone
GROW = np.ones((5, 5), np.uint8)  # the mattes' 2 px growth when finding what is uncovered
EDGE_LEVELS = 8  # of 255: matte drops under this are the two resamplings', not motion

log = logging.getLogger(__name__)


class PasteBack:
    """Blends rendered crops (S, S, 3) into `framing.picture` (H, W, 3).

    roi: the picture's rows and columns the crop covers; everything outside it is the picture.
    ramp: (S, S) float32, the weight of a rendered pixel by where its source lies: 0 within
    MARGIN_PX of any crop pixel that is not the picture's (past the picture's edge or the
    crop's own), rising to 1 over FADE of the side (nothing from outside the picture is
    shown). pixel_ramp: by where the pixel lies: the same from the crop's edge where the
    picture goes on past it (the seam); 1 throughout where the crop covers the whole picture
    (at the picture's own edge the frame ends). A rendered pixel's weight is the pixel ramp at
    the pixel times the ramp at its source. Both are short: the renderer of a framed portrait
    holds the crop's edges and the picture's still (`picture_edge.EdgeHold`), so the
    render there is the still picture, resampled.
    matte: the picture's person matte, or None (the crop is pasted as it is rendered)."""

    def __init__(self, framing: Framing, size: int, matte: PersonMatte | None = None) -> None:
        if framing.picture is None:
            raise ValueError("the portrait was loaded as a crop (framed=False): nothing to paste "
                             "into; load it with framed=True")
        self.picture = framing.picture
        self.size = size
        h, w = framing.shape
        m = framing.to_crop
        # The crop's pixel centres in the picture: their bounding box, clipped, is the ROI.
        inv = cv2.invertAffineTransform(m)
        corners = inv @ np.array([[0, 0, 1], [size - 1, 0, 1], [0, size - 1, 1],
                                  [size - 1, size - 1, 1]], np.float64).T  # (2, 4)
        x0, y0 = (max(0, int(np.floor(v))) for v in corners.min(1))
        x1 = min(w, int(np.ceil(corners[0].max())) + 1)
        y1 = min(h, int(np.ceil(corners[1].max())) + 1)
        if x1 <= x0 or y1 <= y0:
            raise ValueError("the crop does not overlap its picture")
        self.roi = (slice(y0, y1), slice(x0, x1))
        self.roi_to_crop = m.copy()  # ROI pixel -> crop pixel
        self.roi_to_crop[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)
        lin, t = self.roi_to_crop[:, :2], self.roi_to_crop[:, 2]
        # A whole-pixel shift (an upright face at the picture's scale): slicing, no resampling.
        self.shift = (tuple(int(v) for v in t) if np.array_equal(lin, np.eye(2))
                      and np.array_equal(t, np.round(t)) else None)
        on = on_picture(m, (h, w), size)
        seam = on.copy()
        seam[1:-1, 1:-1] = 0  # where the picture goes on past the crop's edge
        self.ramp = edge_ramp(within_crop(on), size, FADE)
        self.pixel_ramp = (edge_ramp(1 - seam, size, FADE) if seam.any()
                           else np.ones((size, size), np.float32))
        self.rest = self.pixel_ramp * self.ramp
        self.matte = matte
        self.alpha_crop: np.ndarray | None = None
        if matte is not None:
            # The matte as 8-bit planes: in the crop (mirrored past the picture's edge as the
            # crop is, cut_crop) for the renderer to warp with each frame, and on the ROI.
            a8 = np.clip(matte.alpha * 255 + 0.5, 0, 255).astype(np.uint8)
            self.alpha_crop = cv2.warpAffine(a8, m, (size, size), flags=cv2.INTER_LINEAR,
                                             borderMode=cv2.BORDER_REFLECT_101)
            self.alpha_roi = np.ascontiguousarray(a8[self.roi])
            self.grown_roi = cv2.dilate(self.alpha_roi, GROW)
            self.edge_roi = cv2.subtract(self.alpha_roi, EDGE_LEVELS)
            self.plate_roi = np.ascontiguousarray(matte.plate[self.roi])

    def weights(self, flow: np.ndarray | None = None) -> np.ndarray:
        """(S, S) float32 paste weight of a frame rendered through `flow` (S, S, 2), the
        renderer's source map (None: at rest, where every pixel is its own source)."""
        if flow is None:
            return self.rest
        return self.pixel_ramp * cv2.remap(self.ramp, flow, None, cv2.INTER_LINEAR,
                                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def to_picture(self, crop_values: np.ndarray, border: int = cv2.BORDER_CONSTANT
                   ) -> np.ndarray:
        """Per-crop-pixel values (S, S[, C]) moved onto the ROI: a slice for a whole-pixel
        shift, else bilinear through the inverse crop affine."""
        ys, xs = self.roi
        if self.shift is not None:
            dx, dy = self.shift
            return crop_values[dy:dy + ys.stop - ys.start, dx:dx + xs.stop - xs.start]
        return cv2.warpAffine(crop_values, self.roi_to_crop, (xs.stop - xs.start,
                                                              ys.stop - ys.start),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=border)

    def __call__(self, crop: np.ndarray, flow: np.ndarray | None = None,
                 alpha: np.ndarray | None = None) -> np.ndarray:
        """The picture (H, W, 3) uint8 with `crop` (S, S, 3), rendered through `flow`, pasted.
        alpha: with a matte, `alpha_crop` warped through the same flow (S, S) uint8 (the
        renderer carries it: `Renderer.carry`); None: the matte at rest."""
        w = self.to_picture(self.weights(flow))
        out = self.picture.copy()
        ys, xs = self.roi
        rendered = self.to_picture(crop, cv2.BORDER_REPLICATE)
        behind = out[ys, xs]
        if self.matte is not None:
            w, behind = self._through_matte(w, alpha)
        out[ys, xs] = cv2.blendLinear(rendered, behind, w, 1.0 - w)
        return out

    def uncovered(self, a8: np.ndarray) -> np.ndarray:
        """(ROI) uint8: how much of the still person the moved one, `a8` (ROI) uint8 (the matte
        warped, on the ROI), has uncovered: where the plate shows behind the render.

        The share of the person uncovered, saturating; steepened, so that where a soft edge
        (hair) has moved away, its faint outline does not stay behind. Both mattes grown by GROW
        first: the picture's own edge pixels (the person's colour past where the matte falls to
        0) go with the person rather than stay as an outline. The growth leaves the still
        person's own edge within GROW of the moved person's soft edge: there the moved edge,
        partly transparent, showed the still face's edge through it, a pale outline beside a
        turned cheek (s4). So also where the still matte exceeds the moved one (beyond
        resampling's few levels) the plate lies behind."""
        return cv2.multiply(cv2.max(cv2.subtract(self.grown_roi, cv2.dilate(a8, GROW)),
                                    cv2.subtract(self.edge_roi, a8)), UNCOVER_GAIN)

    def _through_matte(self, w: np.ndarray, alpha: np.ndarray | None
                       ) -> tuple[np.ndarray, np.ndarray]:
        """The paste weight and what lies behind the rendered pixels, on the ROI, with the
        matte: the person where the warp puts it (a: the matte at each pixel's source) over
        the still picture, and over the plate where the person was and is no longer (u).

        One blend of the render R with weight w a over `behind`: the picture P, with the plate
        blended in by w u (only within the bounding box of u, a band beside the moved head),
        so that where the paste fades out (w -> 0) the picture shows, as without a matte."""
        a8 = self.alpha_roi if alpha is None else self.to_picture(alpha)
        wa = cv2.multiply(w, a8, scale=1 / 255, dtype=cv2.CV_32F)
        ys, xs = self.roi
        behind = self.picture[ys, xs]
        u8 = self.uncovered(a8)
        # The bounding box is that of drops over 1/16: the moved head's side, not every soft
        # edge that shifted by a fraction of a pixel.
        x, y, bw, bh = cv2.boundingRect(cv2.threshold(u8, 63, 255, cv2.THRESH_TOZERO)[1])
        if bw and bh:
            box = np.s_[y:y + bh, x:x + bw]
            u = cv2.multiply(w[box], u8[box], scale=1 / 255, dtype=cv2.CV_32F)
            behind = behind.copy()
            behind[box] = cv2.blendLinear(self.plate_roi[box], behind[box], u, 1.0 - u)
        return wa, behind


MAKE = object()  # PictureRenderer's matte: made there, as the renderer's config asks


def picture_matte(renderer: Renderer) -> PersonMatte | None:
    """The person matte of `renderer`'s framed portrait (None where its config asks for none,
    or the mask found is refused: logged, the backdrop near the head then moves with it).
    Pure: it may run on a thread while the renderer renders (pipelines.calibrate)."""
    portrait = renderer.portrait
    if not renderer.config.matte or not portrait.framed:
        return None
    framing = portrait.framing
    matte, why = person_matte(framing.picture, portrait.landmarks, framing.to_crop)
    if why is not None:
        log.warning("%s: no person matte (%s); the backdrop near the head moves with it",
                    portrait.source or "portrait", why)
    return matte


class PictureRenderer:
    """A `Renderer` whose frames are the portrait's picture (H, W, 3), the animated crop
    pasted back. render(pose, dynamics) as `Renderer.render`; timings gain a "paste" stage.
    matte: the picture's person matte (`picture_matte`; None: none), by default made here."""

    def __init__(self, renderer: Renderer, matte: PersonMatte | None | object = MAKE) -> None:
        portrait = renderer.portrait
        if not portrait.framed:
            raise ValueError("PictureRenderer needs a portrait loaded with framed=True")
        self.renderer = renderer
        if matte is MAKE:
            matte = picture_matte(renderer)
        self.paste = PasteBack(portrait.framing, renderer.size, matte)
        renderer.carry(self.paste.alpha_crop)

    @property
    def shape(self) -> tuple[int, int]:
        return self.paste.picture.shape[:2]

    def warp(self, pose: np.ndarray, dynamics: np.ndarray,
             timings: dict[str, float] | None = None) -> Warped:
        """`Renderer.warp` of the crop."""
        return self.renderer.warp(pose, dynamics, timings)

    def finish(self, w: Warped, timings: dict[str, float] | None = None) -> np.ndarray:
        """`Renderer.finish` of the crop, pasted back into the picture."""
        return self._paste(self.renderer.finish(w, timings), w.flow, w.carried, timings)

    def render(self, pose: np.ndarray, dynamics: np.ndarray,
               timings: dict[str, float] | None = None) -> np.ndarray:
        r = self.renderer
        return self._paste(r.render(pose, dynamics, timings), r.flow, r.carried, timings)

    def _paste(self, crop: np.ndarray, flow: np.ndarray, carried: np.ndarray | None,
               timings: dict[str, float] | None) -> np.ndarray:
        clock = StageClock(timings)
        frame = self.paste(crop, flow, carried)
        clock("paste")
        return frame


def output_renderer(renderer: Renderer, matte: PersonMatte | None | object = MAKE
                    ) -> Renderer | PictureRenderer:
    """What the pipelines write for `renderer`'s portrait: its picture when it was loaded
    framed (with `matte`, as PictureRenderer takes it), else the crop itself."""
    return PictureRenderer(renderer, matte) if renderer.portrait.framed else renderer


__all__ = ["MAKE", "PasteBack", "PictureRenderer", "output_renderer", "picture_matte"]
