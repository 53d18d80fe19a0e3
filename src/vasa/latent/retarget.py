"""Motion transfer between identities (VASA-1 Fig. 4 and 5).

A driving video's motion is applied relative to its own reference: the portrait takes the
driver's change of pose and dynamics, not its absolute values, so the driver's face shape and
resting expression do not leak into the portrait.
"""

from __future__ import annotations

import numpy as np

from vasa.latent.motion import DynamicsLayout, MotionLatents, compose_pose


def retarget(pose: np.ndarray, dynamics: np.ndarray, driving: MotionLatents, num_pca: int,
             transfer_pose: bool = True, transfer_dynamics: bool = True) -> MotionLatents:
    """Target motion (T frames) for a portrait with `pose` (6,) and `dynamics` (D,).

    Pose and PCA dynamics are taken relative to the driver's first frame. Eyelids and gaze use
    the driver's median over the clip as reference, because a first frame caught mid-blink
    would otherwise keep the portrait's eyes half shut for the whole video.
    """
    t = len(driving)
    lay = DynamicsLayout(num_pca)
    if transfer_pose:
        out_pose = compose_pose(pose, driving.pose[0], driving.pose)
    else:
        out_pose = np.repeat(pose[None], t, 0)
    dyn = np.repeat(np.asarray(dynamics, np.float32)[None], t, 0)
    if transfer_dynamics:
        d = driving.dynamics
        pca, eyes, gaze = lay.pca, lay.eyes, lay.gaze
        dyn[:, pca] += d[:, pca] - d[0, pca]
        ref_open = np.maximum(np.median(d[:, eyes], 0), 1e-3)
        dyn[:, eyes] = dynamics[eyes] * np.clip(d[:, eyes] / ref_open, 0.0, 1.4)
        dyn[:, gaze] += d[:, gaze] - np.median(d[:, gaze], 0)
    return MotionLatents(out_pose, dyn)
