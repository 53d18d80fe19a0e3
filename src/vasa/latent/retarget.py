"""Motion transfer between identities (VASA-1 Fig. 4 and 5).

A driving video's motion is applied relative to its own reference: the portrait takes the
driver's change of pose and dynamics, not its absolute values, so the driver's face shape and
resting expression do not leak into the portrait.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vasa.latent.face_model import lip_direction, lip_gap, move_lip_gap
from vasa.latent.motion import SCALE, TX, TY, DynamicsLayout, MotionLatents, compose_pose

if TYPE_CHECKING:
    from vasa.latent.basis import FaceBasis

# `vasa reenact`'s soft limit on the head's shift, in face sizes (the pose's SCALE). A driver's
# head moves across its frame with the body under it (d12: +-0.8 face sizes on the Obama
# photo); the portrait's body stays still, so such a shift stretches the hair and neck between
# the moved head and the still picture and uncovers the plate. Rotations and expression are
# transferred whole; shifts up to about a tenth of the face's size nearly so (tanh).
SHIFT_LIMIT = 0.1


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
             reference: DriverReference | None = None, shift_limit: float | None = None,
             lip_change: float = 0.0, basis: FaceBasis | None = None) -> MotionLatents:
    """Target motion (T frames) for a portrait with `pose` (6,) and `dynamics` (D,).

    Pose and PCA dynamics are taken relative to the reference's first frame, eyelids and gaze
    relative to its medians (`DriverReference`). reference: by default that of `driving`
    itself (the whole clip); a streaming caller passes the reference of the clip's first
    seconds and retargets the frames as they come. shift_limit: the head's shift from the
    portrait's, in face sizes, soft-limited to this (`limit_shift`); None: transferred whole.
    lip_change: a constant change of the inner-lip gap (eye distances) on every frame
    (`driver_lip_change`: the portrait's mouth then opens as the driver's; needs `basis`).
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
        if lip_change:
            if basis is None:
                raise ValueError("retarget: lip_change needs the face basis")
            dyn = move_lip_gap(dyn, lip_change, basis)
    if shift_limit is not None:
        out_pose = limit_shift(out_pose, pose, shift_limit)
    return MotionLatents(out_pose, dyn)


def limit_shift(poses: np.ndarray, base: np.ndarray, limit: float) -> np.ndarray:
    """`poses` (T, 6) with the shift (TX, TY) from `base` (6,) soft-limited: a shift of s face
    sizes (base SCALE) becomes limit * tanh(s / limit), in the same direction."""
    out = np.array(poses, np.float64)
    shift = out[:, TX:TY + 1] - base[TX:TY + 1]
    size = np.linalg.norm(shift, axis=1, keepdims=True) / max(float(base[SCALE]), 1e-9)
    if limit <= 0:
        keep = np.zeros_like(size)
    else:
        keep = np.where(size > 1e-12, limit * np.tanh(size / limit) / np.maximum(size, 1e-12),
                        1.0)
    out[:, TX:TY + 1] = base[TX:TY + 1] + shift * keep
    return out.astype(np.asarray(poses).dtype)


def driver_lip_change(portrait_canonical: np.ndarray, reference: DriverReference,
                      basis: FaceBasis) -> float:
    """The lip-gap change that makes a portrait's mouth open as the driver's, not as its own:
    the driver's inner-lip gap at its reference frame (read from its PCA dynamics) minus the
    portrait's. Relative transfer adds the driver's change to the portrait's own opening, so
    a portrait caught mid-word kept its mouth open through a whole clip (and one with pressed
    lips barely opened); with this constant it is the driver's opening, frame by frame (the
    gap is linear in the coefficients)."""
    driver = lip_gap(basis.template) + float(reference.pca @ lip_direction(basis))
    return driver - lip_gap(portrait_canonical)
