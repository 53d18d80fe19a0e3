"""The face basis: a mean canonical face and a PCA basis of facial dynamics, learned from video.

Built by `vasa build-basis` from real talking-face clips: every tracked frame is aligned to the
template on rigid points (generalised Procrustes), each clip's mean canonical shape is taken as
that clip's identity and subtracted, and PCA of what remains gives the dynamics basis. Removing
the per-clip mean is what keeps identity out of the dynamics (VASA-1 Fig. 4: the same dynamics
drive any face). Shipped as a small versioned .npz asset.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vasa.latent import topology as topo
from vasa.latent.geometry import umeyama
from vasa.latent.motion import DynamicsLayout

BASIS_FORMAT = 1
DEFAULT_BASIS = Path(__file__).resolve().parents[1] / "assets" / "face_basis.npz"


@dataclass
class FaceBasis:
    """template: (478, 3) mean canonical face, inter-ocular distance 1, x along the eye line.
    points: (P,) landmark indices the PCA models. components: (K, P*3) orthonormal rows.
    std: (K,) std of each coefficient on the training data (coefficients are whitened by it).
    iris_right, iris_left: the 5 iris indices (centre first) of the subject's right/left eye.
    info: provenance (data, frames, explained variance)."""

    template: np.ndarray
    points: np.ndarray
    components: np.ndarray
    std: np.ndarray
    iris_right: np.ndarray
    iris_left: np.ndarray
    info: dict = field(default_factory=dict)

    @property
    def num_pca(self) -> int:
        return len(self.components)

    @property
    def layout(self) -> DynamicsLayout:
        """Slices of a dynamics vector: pca, eyes (openness), gaze."""
        return DynamicsLayout(self.num_pca)

    @property
    def dynamics_dim(self) -> int:
        return self.layout.dim

    @property
    def version(self) -> str:
        """Content hash: checkpoints and datasets record it and refuse a different basis."""
        h = hashlib.sha256()
        for a in (self.template, self.points, self.components, self.std):
            h.update(np.ascontiguousarray(a).tobytes())
        return f"{BASIS_FORMAT}-{h.hexdigest()[:12]}"

    def save(self, path: str | Path) -> None:
        from vasa.io import atomic_output  # media libraries only when a basis is written

        with atomic_output(path) as tmp:  # the temporary name keeps .npz: numpy adds none
            np.savez_compressed(tmp, template=self.template.astype(np.float32),
                                points=self.points, components=self.components.astype(np.float32),
                                std=self.std.astype(np.float32), iris_right=self.iris_right,
                                iris_left=self.iris_left, info=json.dumps(self.info),
                                format=BASIS_FORMAT)

    @staticmethod
    def load(path: str | Path = DEFAULT_BASIS) -> FaceBasis:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: face basis not found (build it with `vasa build-basis`)")
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"]) != BASIS_FORMAT:
                raise ValueError(f"{path}: basis format {int(z['format'])}, expected {BASIS_FORMAT}")
            return FaceBasis(template=z["template"], points=z["points"],
                             components=z["components"], std=z["std"],
                             iris_right=z["iris_right"], iris_left=z["iris_left"],
                             info=json.loads(str(z["info"])))


_DEFAULT: FaceBasis | None = None


def default_basis() -> FaceBasis:
    """The basis shipped with the package (loaded once)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = FaceBasis.load(DEFAULT_BASIS)
    return _DEFAULT


def _normalise_template(shape: np.ndarray) -> np.ndarray:
    """Put a mean shape in the canonical frame: origin at the rigid points' centroid, x along the
    outer eye corners, y towards the chin, inter-ocular distance 1."""
    s = shape - shape[topo.RIGID].mean(0)
    x = s[topo.LEFT_EYE_CORNERS[0]] - s[topo.RIGHT_EYE_CORNERS[0]]
    iod = np.linalg.norm(x)
    x /= iod
    y = s[152] - 0.5 * (s[topo.LEFT_EYE_CORNERS[0]] + s[topo.RIGHT_EYE_CORNERS[0]])
    y -= x * (y @ x)
    y /= np.linalg.norm(y)
    rot = np.stack([x, y, np.cross(x, y)])
    return (s @ rot.T) / iod


def canonical_shapes(landmarks: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Align (T, 478, 3) landmarks to the template on rigid points: (T, 478, 3) canonical."""
    out = np.empty_like(landmarks, dtype=np.float64)
    for i, lm in enumerate(landmarks):
        s, r, t = umeyama(template[topo.RIGID], lm[topo.RIGID].astype(np.float64))
        out[i] = (lm - t) @ r / s
    return out


def build_basis(clips: list[np.ndarray], num_components: int = 24, iterations: int = 3,
                info: dict | None = None) -> FaceBasis:
    """Learn a FaceBasis from tracked clips, each (T_i, 478, 3) landmarks in pixels."""
    if not clips:
        raise ValueError("build_basis needs at least one tracked clip")
    template = _normalise_template(clips[0][0].astype(np.float64))
    for _ in range(iterations):  # generalised Procrustes: align to the mean, re-estimate the mean
        canon = [canonical_shapes(c, template) for c in clips]
        template = _normalise_template(np.concatenate(canon).mean(0))
    canon = [canonical_shapes(c, template) for c in clips]
    points = topo.dynamics_points()
    offsets = np.concatenate([(c[:, points] - c[:, points].mean(0)).reshape(len(c), -1)
                              for c in canon])
    _, sing, vt = np.linalg.svd(offsets, full_matrices=False)
    var = sing**2 / len(offsets)
    k = num_components
    # Which iris group is in the subject's right eye (next to corners 33/133)?
    right_mid = template[list(topo.RIGHT_EYE_CORNERS)].mean(0)
    a_is_right = (np.linalg.norm(template[topo.IRIS_A[0]] - right_mid)
                  < np.linalg.norm(template[topo.IRIS_B[0]] - right_mid))
    iris_r, iris_l = (topo.IRIS_A, topo.IRIS_B) if a_is_right else (topo.IRIS_B, topo.IRIS_A)
    meta = dict(info or {})
    meta.update(frames=len(offsets), clips=len(clips),
                explained_variance=float(var[:k].sum() / var.sum()))
    return FaceBasis(template=template.astype(np.float32), points=points.astype(np.int32),
                     components=vt[:k].astype(np.float32), std=np.sqrt(var[:k]).astype(np.float32),
                     iris_right=np.array(iris_r, np.int32), iris_left=np.array(iris_l, np.int32),
                     info=meta)
