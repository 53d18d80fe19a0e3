"""Motion transfer between identities (VASA-1 Fig. 4 and 5).

A driving video's motion is applied relative to its own reference: the portrait takes the
driver's change of pose and dynamics, not its absolute values, so the driver's face shape and
resting expression do not leak into the portrait.
"""

from __future__ import annotations

import numpy as np

from vasa.latent.motion import MotionLatents, compose_pose


def retarget(pose: np.ndarray, dynamics: np.ndarray, driving: MotionLatents, num_pca: int,
             transfer_pose: bool = True, transfer_dynamics: bool = True) -> MotionLatents:
    """Target motion (T frames) for a portrait with `pose` (6,) and `dynamics` (D,).

    Pose and PCA dynamics are taken relative to the driver's first frame. Eyelids and gaze use
    the driver's median over the clip as reference, because a first frame caught mid-blink
    would otherwise keep the portrait's eyes half shut for the whole video.
    """
    t = len(driving)
    k = num_pca
    if transfer_pose:
        out_pose = compose_pose(pose, driving.pose[0], driving.pose)
    else:
        out_pose = np.repeat(pose[None], t, 0)
    dyn = np.repeat(np.asarray(dynamics, np.float32)[None], t, 0)
    if transfer_dynamics:
        d = driving.dynamics
        dyn[:, :k] += d[:, :k] - d[0, :k]
        ref_open = np.maximum(np.median(d[:, k:k + 2], 0), 1e-3)
        dyn[:, k:k + 2] = dynamics[k:k + 2] * np.clip(d[:, k:k + 2] / ref_open, 0.0, 1.4)
        dyn[:, k + 2:k + 4] += d[:, k + 2:k + 4] - np.median(d[:, k + 2:k + 4], 0)
    return MotionLatents(out_pose, dyn)
