"""Emotion directions in the face latent space: how the dynamics' PCA coefficients move when a
face shows more of an emotion.

Learned by `vasa build-expressions` from real footage (`vasa.pipelines.build_expressions`): per
tracked frame, the 7 emotion coefficients read off the tracker's blendshapes (the same FACS
rules that give VASA-1's condition e, `vasa.data.emotion`) and the frame's PCA coefficients,
both taken relative to their clip's mean so identity drops out; a ridge regression of the
coefficients on the scores gives one direction per emotion, in whitened coefficients per unit of
score, then scaled so that intensity 1 moves the face at least INTENSITY_RMS for every emotion
(`equal_intensity`). Disgust and contempt, which the footage barely shows, are drawn from their
FACS prototypes instead (`vasa.latent.action_units`). Shipped as a small asset tied to the
face basis version.

The motion generator's learned emotion condition barely shows ("happiness" pursed the lips,
sadness and anger looked neutral, issue 12): 20 minutes of mostly neutral speech carry too
little emotion to learn it. The engine adds `offset(emotion)` to the generated dynamics so a
requested emotion is seen, with `Controls.emotion_intensity` as the knob.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from vasa.latent.basis import FaceBasis

EXPRESSIONS_FORMAT = 1
DEFAULT_EXPRESSIONS = Path(__file__).resolve().parents[1] / "assets" / "expressions.npz"
# Intensity 1 moves the face's landmarks by at least this RMS displacement (eye distances).
# Fitted per unit of score, the directions moved it 0.026 (sadness) to 0.13 (surprise): a unit
# of MediaPipe's score is not the same amount of face for every emotion, and sadness and anger
# hardly showed at intensity 1. 0.06 is about the median of the fitted sizes. Larger ones keep
# their size: scaled down to it, happiness, surprise and fear showed less (re-tracked rise
# 0.17 -> 0.12, 0.14 -> 0.07, 0.09 -> 0.06 at intensity 1).
INTENSITY_RMS = 0.06
# A direction is scaled up by at most this much: one the data barely determines is not blown
# up into noise.
MAX_SCALE = 3.0


@dataclass
class EmotionDirections:
    """names: the emotions, in the order of the condition e; directions: (E, K) change of the
    whitened PCA coefficients at intensity 1 (`equal_intensity`: at least the same landmark
    displacement for every emotion); basis_version: the face basis
    they are measured in; info: provenance and fit quality."""

    names: tuple[str, ...]
    directions: np.ndarray
    basis_version: str
    info: dict = field(default_factory=dict)

    def offset(self, emotion: np.ndarray) -> np.ndarray:
        """(K,) PCA offset for an emotion vector (E,) of intensities in 0..1 (a named emotion
        is 1 on its own entry)."""
        return np.asarray(emotion, np.float64) @ self.directions

    def save(self, path: str | Path) -> None:
        from vasa.io import atomic_output  # media libraries only when an asset is written

        with atomic_output(path) as tmp:
            np.savez_compressed(tmp, names=np.array(self.names), basis_version=self.basis_version,
                                directions=self.directions.astype(np.float32),
                                info=json.dumps(self.info), format=EXPRESSIONS_FORMAT)

    @staticmethod
    def load(path: str | Path = DEFAULT_EXPRESSIONS, basis_version: str | None = None
             ) -> EmotionDirections:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: emotion directions not found (build them with "
                                    "`vasa build-expressions`)")
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"]) != EXPRESSIONS_FORMAT:
                raise ValueError(f"{path}: format {int(z['format'])}, expected "
                                 f"{EXPRESSIONS_FORMAT}")
            out = EmotionDirections(tuple(str(n) for n in z["names"]), z["directions"],
                                    str(z["basis_version"]), json.loads(str(z["info"])))
        if basis_version is not None and out.basis_version != basis_version:
            raise ValueError(f"{path}: measured in face basis {out.basis_version}, this vasa has "
                             f"{basis_version}: rebuild them with `vasa build-expressions`")
        return out


def displacement_rms(direction: np.ndarray, basis: FaceBasis) -> float:
    """RMS image-plane displacement (eye distances) of the basis points moved by `direction`
    (K,) in whitened PCA coefficients."""
    moved = ((np.asarray(direction, np.float64) * basis.std) @ basis.components).reshape(-1, 3)
    return float(np.sqrt((moved[:, :2] ** 2).sum(1).mean()))


def equal_intensity(directions: np.ndarray, basis: FaceBasis, rms: float = INTENSITY_RMS,
                    max_scale: float = MAX_SCALE) -> tuple[np.ndarray, np.ndarray]:
    """(directions (E, K) rescaled so each moves the landmarks by at least `rms` at intensity
    1, the scale applied to each (E,), within 1 .. max_scale)."""
    sizes = np.array([displacement_rms(d, basis) for d in directions])
    scale = np.clip(rms / np.maximum(sizes, 1e-12), 1.0, max_scale)
    return directions * scale[:, None], scale


def fit_directions(coefficients: list[np.ndarray], scores: list[np.ndarray],
                   ridge: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression of per-clip-centred PCA coefficients (each (T_i, K)) on per-clip-centred
    emotion scores (each (T_i, E)): directions (E, K) and the share of each coefficient's
    within-clip variance they explain (K,)."""
    c = np.concatenate([x - x.mean(0) for x in coefficients]).astype(np.float64)
    s = np.concatenate([x - x.mean(0) for x in scores]).astype(np.float64)
    directions = _ridge(s, c, ridge)
    resid = c - s @ directions
    explained = 1.0 - resid.var(0) / np.maximum(c.var(0), 1e-12)
    return directions, explained


def _ridge(x: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """argmin_B |y - x B|^2 + ridge |B|^2."""
    return np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ y)
