"""Motion latents: what a motion generator emits per frame and the renderer consumes.

VASA-1 section 1 splits a face into appearance, identity, head pose and holistic facial dynamics.
Here pose is a 6-vector and dynamics one vector of `FaceBasis.dynamics_dim` numbers:

pose (6,):      pitch, yaw, roll (radians), tx, ty (head position: offset of the canonical
                face origin from the frame centre, in frame widths), scale (inter-ocular
                distance in frame widths; also the head-distance cue).
dynamics (D,):  [pca_0 .. pca_{K-1}, open_right, open_left, gaze_x, gaze_y]
                pca: whitened coefficients of the landmark-offset basis (lips, jaw, cheeks,
                brows, nose) in the pose-free, scale-free canonical frame; open_*: eyelid gap /
                eye width; gaze: iris offset from the eye centre / eye width (x right, y down).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

POSE_DIM = 6
PITCH, YAW, ROLL, TX, TY, SCALE = range(POSE_DIM)
EYES_DIM = 2  # eyelid openness: right, left
GAZE_DIM = 2  # iris offset: x, y


@dataclass(frozen=True)
class DynamicsLayout:
    """Where each part of a dynamics vector lives, for a basis of `num_pca` components:
    [pca_0 .. pca_{K-1}, open_right, open_left, gaze_x, gaze_y]. `offset` places the same
    layout inside a longer vector (the generator's features put the pose first)."""

    num_pca: int
    offset: int = 0

    @property
    def pca(self) -> slice:
        return slice(self.offset, self.offset + self.num_pca)

    @property
    def eyes(self) -> slice:
        return slice(self.pca.stop, self.pca.stop + EYES_DIM)

    @property
    def gaze(self) -> slice:
        return slice(self.eyes.stop, self.eyes.stop + GAZE_DIM)

    @property
    def dim(self) -> int:
        """Numbers in a dynamics vector (without the offset)."""
        return self.num_pca + EYES_DIM + GAZE_DIM


@dataclass
class MotionLatents:
    """A sequence of T frames of motion. pose: (T, 6) float32; dynamics: (T, D) float32."""

    pose: np.ndarray
    dynamics: np.ndarray

    def __post_init__(self) -> None:
        self.pose = np.asarray(self.pose, np.float32).reshape(-1, POSE_DIM)
        self.dynamics = np.asarray(self.dynamics, np.float32)
        if self.dynamics.ndim == 1:
            self.dynamics = self.dynamics[None]
        if len(self.pose) != len(self.dynamics):
            raise ValueError(f"pose has {len(self.pose)} frames but dynamics {len(self.dynamics)}")

    def __len__(self) -> int:
        return len(self.pose)

    def __getitem__(self, idx: int | slice) -> MotionLatents:
        if isinstance(idx, int):
            idx = slice(idx, idx + 1 if idx != -1 else None)
        return MotionLatents(self.pose[idx], self.dynamics[idx])

    @staticmethod
    def concat(parts: list[MotionLatents]) -> MotionLatents:
        return MotionLatents(np.concatenate([p.pose for p in parts]),
                             np.concatenate([p.dynamics for p in parts]))


def compose_pose(base: np.ndarray, rel_from: np.ndarray, rel_to: np.ndarray) -> np.ndarray:
    """Apply the motion rel_from -> rel_to on top of `base` (each (..., 6)).

    Rotation: R = R_to @ R_from^T @ R_base (relative rotation, as in video-driven reenactment);
    translation: base + (to - from) scaled by base/from face size; scale: base * to / from.
    """
    from vasa.latent.geometry import euler_to_matrix, matrix_to_euler

    base, rel_from, rel_to = (np.asarray(a, np.float64).reshape(-1, POSE_DIM)
                              for a in (base, rel_from, rel_to))
    n = max(len(base), len(rel_from), len(rel_to))
    out = np.zeros((n, POSE_DIM))
    for i in range(n):
        b, f, t = base[min(i, len(base) - 1)], rel_from[min(i, len(rel_from) - 1)], rel_to[i % len(rel_to)]
        r = euler_to_matrix(*t[:3]) @ euler_to_matrix(*f[:3]).T @ euler_to_matrix(*b[:3])
        out[i, :3] = matrix_to_euler(r)
        k = b[SCALE] / f[SCALE]
        out[i, TX:TY + 1] = b[TX:TY + 1] + (t[TX:TY + 1] - f[TX:TY + 1]) * k
        out[i, SCALE] = b[SCALE] * t[SCALE] / f[SCALE]
    return out.astype(np.float32)
