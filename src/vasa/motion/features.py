"""What the motion generator models, and how its output drives a portrait.

Generator features per frame (34): head pose and facial dynamics relative to the speaker's own
rest state, so that one model serves every identity and every framing:

    pose (6):      pitch, yaw, roll minus the segment median (radians); tx, ty minus the median,
                   in inter-ocular distances; log(scale / median scale)
    dynamics (28): 24 PCA coefficients minus the segment median (the rest expression, which also
                   holds identity); eye openness / its segment median (1 = open, 0 = shut);
                   gaze x, y as measured (absolute, so the gaze condition means something)

Applied to a portrait, the offsets are added to the portrait's own pose and expression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vasa.latent.motion import POSE_DIM, SCALE, TX, TY, DynamicsLayout, MotionLatents

NUM_PCA = 24  # the bundled face basis's dynamics components; the features are laid out for it
# The most a generated nod (pitch) and turn (yaw) move the head from the portrait's own pose,
# radians: past the knee an offset is eased towards the limit (`soft_limit`). The renderer warps
# the portrait's one view, so a turn magnifies the near cheek from pixels the photo saw
# foreshortened: over the 20 public portraits the median share of the face stretched past 2x
# is 3% at 10 degrees of yaw, 10% at 20, 17% at 30 (`scripts/turn_stretch.py`), and at 30
# the face reads swollen (the "sad" portrait and Einstein on LivePortrait d14's voice, whose
# generated turn reached 29 degrees). The limits are issue 13's envelope of motion (25 degrees
# of yaw, 15 of pitch); below the knees lie nearly all the generator's turns on held-out
# speech (99th percentile 4-16 degrees of yaw, but for d14) and real held-out speakers' (4-22).
# Roll turns the picture in its plane, which the warp renders without stretching: not limited.
TURN_KNEE = np.radians([10.0, 18.0])  # pitch, yaw
TURN_LIMIT = np.radians([15.0, 25.0])


@dataclass(frozen=True)
class FeatureLayout:
    """The generator's per-frame features: the pose block, then the dynamics in the face
    basis's layout (`DynamicsLayout` shifted past the pose)."""

    num_pca: int = NUM_PCA

    rotation = slice(0, 3)  # pitch, yaw, roll offsets (radians)
    translation = slice(3, 5)  # tx, ty offsets in inter-ocular distances
    log_scale = 5  # log(scale / median scale)
    pose = slice(0, POSE_DIM)

    @property
    def dynamics(self) -> DynamicsLayout:
        return DynamicsLayout(self.num_pca, offset=POSE_DIM)

    @property
    def dim(self) -> int:
        return POSE_DIM + self.dynamics.dim

    def check_dynamics(self, width: int, what: str = "dynamics") -> DynamicsLayout:
        """The basis layout of a dynamics vector `width` numbers wide; refuse another basis by
        name (a basis of other than NUM_PCA components would put PCA coefficients where the
        features keep eye openness)."""
        layout = DynamicsLayout(self.num_pca)
        if width != layout.dim:
            raise ValueError(f"{what}: {width} dynamics values, i.e. a face basis of "
                             f"{width - (layout.dim - self.num_pca)} PCA components; the motion "
                             f"generator's features are laid out for num_pca = {self.num_pca} "
                             f"(vasa.motion.features.NUM_PCA): rebuild the basis with "
                             f"--components {self.num_pca}")
        return layout


FEATURES = FeatureLayout()


def to_features(pose: np.ndarray, dynamics: np.ndarray) -> np.ndarray:
    """(T, 34) generator features from a segment's pose (T, 6) and dynamics (T, 28)."""
    pose = np.asarray(pose, np.float64)
    dyn = np.asarray(dynamics, np.float64)
    d, f = FEATURES.check_dynamics(dyn.shape[-1]), FEATURES.dynamics
    med_pose = np.median(pose, 0)
    scale = med_pose[SCALE]
    out = np.empty((len(pose), FEATURES.dim))
    out[:, FEATURES.rotation] = pose[:, :3] - med_pose[:3]
    out[:, FEATURES.translation] = (pose[:, TX:TY + 1] - med_pose[TX:TY + 1]) / scale
    out[:, FEATURES.log_scale] = np.log(pose[:, SCALE] / scale)
    out[:, f.pca] = dyn[:, d.pca] - np.median(dyn[:, d.pca], 0)
    out[:, f.eyes] = dyn[:, d.eyes] / np.maximum(np.median(dyn[:, d.eyes], 0), 1e-3)
    out[:, f.gaze] = dyn[:, d.gaze]
    return out.astype(np.float32)


def soft_limit(x: np.ndarray, knee: np.ndarray | float, limit: np.ndarray | float
               ) -> np.ndarray:
    """x (..., k) with each magnitude past `knee` eased towards `limit` (per column, or one for
    all): unchanged up to the knee, then knee + (limit - knee) tanh(excess / (limit - knee)),
    whose slope is 1 at the knee (no kink) and falls to 0 at the limit."""
    x = np.asarray(x, np.float64)
    span = np.asarray(limit, np.float64) - knee
    over = np.maximum(np.abs(x) - knee, 0.0)
    return np.sign(x) * (np.minimum(np.abs(x), knee) + span * np.tanh(over / span))


def to_latents(features: np.ndarray, pose: np.ndarray, dynamics: np.ndarray,
               motion_scale: float = 1.0, still_head: bool = False) -> MotionLatents:
    """Render latents for a portrait with `pose` (6,) and `dynamics` (28,) from generated
    features (T, 34). motion_scale scales head motion, whose nods and turns are then kept
    within TURN_LIMIT of the portrait's pose (`soft_limit`); still_head keeps the portrait's
    pose."""
    f = np.asarray(features, np.float64)
    d, fd = FEATURES.check_dynamics(len(dynamics), "portrait"), FEATURES.dynamics
    t = len(f)
    out_pose = np.repeat(np.asarray(pose, np.float64)[None], t, 0)
    if not still_head:
        m = motion_scale
        turn = m * f[:, FEATURES.rotation]
        turn[:, :2] = soft_limit(turn[:, :2], TURN_KNEE, TURN_LIMIT)
        out_pose[:, :3] += turn
        out_pose[:, TX:TY + 1] += m * f[:, FEATURES.translation] * pose[SCALE]
        out_pose[:, SCALE] *= np.exp(m * f[:, FEATURES.log_scale])
    dyn = np.repeat(np.asarray(dynamics, np.float64)[None], t, 0)
    dyn[:, d.pca] += f[:, fd.pca]
    dyn[:, d.eyes] = dynamics[d.eyes] * np.clip(f[:, fd.eyes], 0.0, 1.4)
    dyn[:, d.gaze] = f[:, fd.gaze]
    return MotionLatents(out_pose.astype(np.float32), dyn.astype(np.float32))
