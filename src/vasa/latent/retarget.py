"""Motion transfer between identities (VASA-1 Fig. 4 and 5).

A driving video's motion is applied relative to its own reference: the portrait takes the
driver's change of pose and dynamics, not its absolute values, so the driver's face shape and
resting expression do not leak into the portrait.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vasa.latent.motion import DynamicsLayout, MotionLatents, compose_pose


@dataclass(frozen=True)
class DriverReference:
    """What a driver's motion is taken relative to. pose (6,) and pca (K,): its first frame's;
    eyes (2,) and gaze: medians over the reference frames, because a first frame caught
    mid-blink would otherwise keep the portrait's eyes half shut for the whole video."""

    pose: np.ndarray
    pca: np.ndarray
    eyes: np.ndarray
    gaze: np.ndarray

    @classmethod
    def of(cls, driving: MotionLatents, num_pca: int) -> DriverReference:
        """The reference of `driving`: its first frame, and medians over all its frames."""
        lay = DynamicsLayout(num_pca)
        d = driving.dynamics
        return cls(np.asarray(driving.pose[0]), d[0, lay.pca].copy(),
                   np.maximum(np.median(d[:, lay.eyes], 0), 1e-3),
                   np.median(d[:, lay.gaze], 0))


def retarget(pose: np.ndarray, dynamics: np.ndarray, driving: MotionLatents, num_pca: int,
             transfer_pose: bool = True, transfer_dynamics: bool = True,
             reference: DriverReference | None = None) -> MotionLatents:
    """Target motion (T frames) for a portrait with `pose` (6,) and `dynamics` (D,).

    Pose and PCA dynamics are taken relative to the reference's first frame, eyelids and gaze
    relative to its medians (`DriverReference`). reference: by default that of `driving`
    itself (the whole clip); a streaming caller passes the reference of the clip's first
    seconds and retargets the frames as they come.
    """
    t = len(driving)
    lay = DynamicsLayout(num_pca)
    ref = reference or DriverReference.of(driving, num_pca)
    if transfer_pose:
        out_pose = compose_pose(pose, ref.pose, driving.pose)
    else:
        out_pose = np.repeat(pose[None], t, 0)
    dyn = np.repeat(np.asarray(dynamics, np.float32)[None], t, 0)
    if transfer_dynamics:
        d = driving.dynamics
        pca, eyes, gaze = lay.pca, lay.eyes, lay.gaze
        dyn[:, pca] += d[:, pca] - ref.pca
        dyn[:, eyes] = dynamics[eyes] * np.clip(d[:, eyes] / ref.eyes, 0.0, 1.4)
        dyn[:, gaze] += d[:, gaze] - ref.gaze
    return MotionLatents(out_pose, dyn)
