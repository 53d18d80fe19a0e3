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

import numpy as np

from vasa.latent.motion import SCALE, TX, TY, MotionLatents

NUM_PCA = 24


def to_features(pose: np.ndarray, dynamics: np.ndarray) -> np.ndarray:
    """(T, 34) generator features from a segment's pose (T, 6) and dynamics (T, 28)."""
    pose = np.asarray(pose, np.float64)
    dyn = np.asarray(dynamics, np.float64)
    med_pose = np.median(pose, 0)
    scale = med_pose[SCALE]
    out = np.empty((len(pose), 34))
    out[:, :3] = pose[:, :3] - med_pose[:3]
    out[:, 3:5] = (pose[:, TX:TY + 1] - med_pose[TX:TY + 1]) / scale
    out[:, 5] = np.log(pose[:, SCALE] / scale)
    k = NUM_PCA
    out[:, 6:6 + k] = dyn[:, :k] - np.median(dyn[:, :k], 0)
    out[:, 6 + k:8 + k] = dyn[:, k:k + 2] / np.maximum(np.median(dyn[:, k:k + 2], 0), 1e-3)
    out[:, 8 + k:10 + k] = dyn[:, k + 2:k + 4]
    return out.astype(np.float32)


def to_latents(features: np.ndarray, pose: np.ndarray, dynamics: np.ndarray,
               motion_scale: float = 1.0, still_head: bool = False) -> MotionLatents:
    """Render latents for a portrait with `pose` (6,) and `dynamics` (28,) from generated
    features (T, 34). motion_scale scales head motion; still_head keeps the portrait's pose."""
    f = np.asarray(features, np.float64)
    t = len(f)
    out_pose = np.repeat(np.asarray(pose, np.float64)[None], t, 0)
    if not still_head:
        m = motion_scale
        out_pose[:, :3] += m * f[:, :3]
        out_pose[:, TX:TY + 1] += m * f[:, 3:5] * pose[SCALE]
        out_pose[:, SCALE] *= np.exp(m * f[:, 5])
    k = NUM_PCA
    dyn = np.repeat(np.asarray(dynamics, np.float64)[None], t, 0)
    dyn[:, :k] += f[:, 6:6 + k]
    dyn[:, k:k + 2] = dynamics[k:k + 2] * np.clip(f[:, 6 + k:8 + k], 0.0, 1.4)
    dyn[:, k + 2:k + 4] = f[:, 8 + k:10 + k]
    return MotionLatents(out_pose.astype(np.float32), dyn.astype(np.float32))
