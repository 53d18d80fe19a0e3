"""FACS action units drawn on the template face: emotions the footage cannot teach.

The emotion directions are regressed from real footage (`vasa.latent.expressions`), which works
where the training clips show an emotion. Disgust and contempt they barely show: the within-clip
spread of their scores is 0.03, MediaPipe never raises noseSneer (AU9), and contempt's one-sided
lip corner cancels in a linear fit. Regressed, they moved the re-tracked face by +0.01 and +0.03
at intensity 1 (issue 12 item 4), and no sneer or smirk could be seen.

So these two are drawn instead, from Ekman & Friesen's EMFACS prototypes: each action unit is a
smooth displacement of the template's landmarks around named mesh points (a Gaussian falloff,
optionally only above or below the mouth line), an emotion is a sum of them, and its direction
is that displacement's least-squares projection onto the face basis, in whitened coefficients.
The basis holds one-sided motion well: a one-sided corner raise of 0.05 eye distances (falloff
0.12) keeps 0.040 on its corner and moves the other 0.003.

Sizes are eye distances of the template as a named emotion shows them (`--emotion disgust`,
a score of 0.4) at intensity 1; the stored directions are per unit of score like the fitted
ones (`vasa build-expressions` divides by that level). They were chosen on rendered faces: the
smallest that the eye reads as the expression and the tracker scores as it (disgust's score
tops out near 0.24, since noseSneer never moves; contempt's asymmetry rises to 0.2-0.9 of its
range).
Coordinates are the template's: x toward the subject's left, y down, z away from the viewer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from vasa.latent.basis import FaceBasis

MOUTH_LINE = (13, 14)  # inner lip centres: "above" and "below" the mouth are split between them
SIDE_SOFTNESS = 0.012  # eye distances over which the split fades


@dataclass(frozen=True)
class Movement:
    """Template points near `anchor` move by `shift` (x, y, z eye distances), weighted by a
    Gaussian of their image-plane distance with sd `radius`; `side` "above" / "below" keeps
    only the points on that side of the mouth line (a lip moves without the other)."""

    anchor: int
    radius: float
    shift: tuple[float, float, float]
    side: str = ""


# The action units the two drawn emotions use (EMFACS: disgust 9+10+15+17 with some 4;
# contempt R12A+R14A, one-sided). "Right"/"left" are the subject's.
ACTION_UNITS: dict[str, tuple[Movement, ...]] = {
    "AU4": (Movement(55, 0.12, (0.02, 0.03, 0.0)),  # brows down and together
            Movement(285, 0.12, (-0.02, 0.03, 0.0))),
    "AU9": (Movement(48, 0.06, (0.0, -0.03, 0.0)),  # nose wrinkler: the alae rise
            Movement(278, 0.06, (0.0, -0.03, 0.0))),
    # Upper lip raiser, on either side of the philtrum: centred on the lip's middle, it also
    # lifted the nose and read as a snout.
    "AU10": (Movement(37, 0.1, (0.0, -0.1, 0.0), "above"),
             Movement(267, 0.1, (0.0, -0.1, 0.0), "above")),
    "AU15": (Movement(61, 0.07, (0.0, 0.0375, 0.0)),  # lip corners pulled down
             Movement(291, 0.07, (0.0, 0.0375, 0.0))),
    "AU17": (Movement(17, 0.2, (0.0, -0.03, 0.0), "below"),),  # chin pushes the lower lip up
    "L14": (Movement(291, 0.12, (0.09, -0.105, 0.06)),),  # left corner pulled up, out and back
}
PROTOTYPES: dict[str, tuple[str, ...]] = {
    "disgust": ("AU4", "AU9", "AU10", "AU15", "AU17"),
    "contempt": ("L14",),
}


def displacement(units: tuple[str, ...], basis: FaceBasis) -> np.ndarray:
    """(P, 3) displacement of the basis points by the sum of the action units."""
    points = basis.template[basis.points]
    mouth_y = basis.template[list(MOUTH_LINE), 1].mean()
    above = 1.0 / (1.0 + np.exp(-(mouth_y - points[:, 1]) / SIDE_SOFTNESS))
    out = np.zeros_like(points, dtype=np.float64)
    for unit in units:
        for m in ACTION_UNITS[unit]:
            d2 = ((points[:, :2] - basis.template[m.anchor, :2]) ** 2).sum(1)
            w = np.exp(-d2 / (2.0 * m.radius ** 2))
            if m.side == "above":
                w = w * above
            elif m.side == "below":
                w = w * (1.0 - above)
            out += w[:, None] * np.asarray(m.shift)
    return out


def drawn_direction(emotion: str, basis: FaceBasis) -> np.ndarray:
    """(K,) whitened PCA coefficients of an emotion's prototype at intensity 1."""
    if emotion not in PROTOTYPES:
        raise ValueError(f"no drawn prototype for {emotion!r} (drawn: {', '.join(PROTOTYPES)})")
    coef = basis.components @ displacement(PROTOTYPES[emotion], basis).reshape(-1)
    return coef / basis.std
