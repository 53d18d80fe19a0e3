"""Encoder and shape decoder of the face latent space.

encode: tracked landmarks -> (pose, dynamics, canonical shape). Pose is a similarity fit on
rigid points; the canonical shape is the face with that pose removed; dynamics are read off the
canonical shape: PCA coefficients of the non-eye points, eyelid openness and gaze.

decode: a portrait's canonical shape + a change of dynamics -> the new canonical shape, then
placed in the frame with a pose. Dynamics act as offsets on the portrait's own face, so its
identity (face shape) is kept whatever motion drives it.
"""

from __future__ import annotations

import numpy as np

from vasa.latent import topology as topo
from vasa.latent.basis import FaceBasis
from vasa.latent.geometry import euler_to_matrix, matrix_to_euler, umeyama
from vasa.latent.motion import POSE_DIM, SCALE, TX, TY

_R_UP, _R_LO = np.array(topo.RIGHT_EYE_UPPER), np.array(topo.RIGHT_EYE_LOWER)
_L_UP, _L_LO = np.array(topo.LEFT_EYE_UPPER), np.array(topo.LEFT_EYE_LOWER)
_R_CORNERS, _L_CORNERS = list(topo.RIGHT_EYE_CORNERS), list(topo.LEFT_EYE_CORNERS)
MIN_OPEN = 0.04  # eyelid gap / eye width below which an eye counts as closed in the portrait
SHUT_EYE = 2 * MIN_OPEN  # eyelid gap / eye width under which a portrait's eye is taken as shut
# Inner-lip landmark pairs, each upper point above its lower partner (corners left out: they
# are shared). y points towards the chin in the canonical frame.
_LIP_UP = np.array(topo.LIPS_INNER_UPPER[1:-1])
_LIP_LO = np.array(topo.LIPS_INNER_LOWER[-2:0:-1])
LIP_UPPER, LIP_LOWER = 13, 14  # inner-lip midpoints: the gap between them is the mouth opening


def lip_gap(canonical: np.ndarray) -> float:
    """Inner lip opening at the centre (points 13, 14), canonical units (eye distance = 1);
    negative when the lower lip is drawn above the upper one."""
    return float(canonical[LIP_LOWER, 1] - canonical[LIP_UPPER, 1])


def lip_direction(basis: FaceBasis) -> np.ndarray:
    """(K,) change of the inner-lip gap per unit of each whitened PCA coefficient."""
    pts = list(basis.points)
    comp = basis.components.reshape(basis.num_pca, -1, 3)
    return ((comp[:, pts.index(LIP_LOWER), 1] - comp[:, pts.index(LIP_UPPER), 1])
            * basis.std).astype(np.float64)


def move_lip_gap(dynamics: np.ndarray, change: float | np.ndarray, basis: FaceBasis
                 ) -> np.ndarray:
    """Dynamics (D,) or (T, D) with the inner-lip gap changed by `change` (scalar or (T,)), by
    the smallest change of the PCA coefficients. The coefficients are whitened (unit variance
    over the training frames), so the smallest change is also their expected co-movement
    with the gap: jaw, lips and cheeks open together as they do in the data."""
    d = lip_direction(basis)
    out = np.array(dynamics, np.float64)
    step = np.multiply.outer(np.asarray(change, np.float64), d / (d @ d))
    out[..., basis.layout.pca] += step
    return out.astype(np.float32)


def keep_lips_apart(canonical: np.ndarray) -> np.ndarray:
    """Lip contact: where a lower inner-lip point would pass above its upper partner, both meet
    at their mean height. Lips touch; they never pass through each other (a generated or
    retargeted offset added to a closed mouth can ask for that, and the warp then draws a
    zig-zag lip line). In place; returns `canonical`."""
    up, lo = canonical[_LIP_UP, 1], canonical[_LIP_LO, 1]
    crossed = lo < up
    if crossed.any():
        mid = 0.5 * (up + lo)
        canonical[_LIP_UP[crossed], 1] = mid[crossed]
        canonical[_LIP_LO[crossed], 1] = mid[crossed]
    return canonical


def fit_pose(landmarks: np.ndarray, basis: FaceBasis, frame_size: float) -> np.ndarray:
    """Pose (6,) of (478, 3) pixel landmarks in a square frame of side `frame_size` pixels."""
    s, r, t = umeyama(basis.template[topo.RIGID].astype(np.float64),
                      landmarks[topo.RIGID].astype(np.float64))
    pose = np.zeros(POSE_DIM)
    pose[:3] = matrix_to_euler(r)
    pose[TX:TY + 1] = (t[:2] - frame_size / 2) / frame_size
    pose[SCALE] = s / frame_size
    return pose.astype(np.float32)


def to_canonical(landmarks: np.ndarray, pose: np.ndarray, frame_size: float) -> np.ndarray:
    """Remove `pose` from pixel landmarks: (N, 3) canonical shape (inter-ocular distance ~1)."""
    r = euler_to_matrix(*pose[:3])
    t = np.array([pose[TX] * frame_size + frame_size / 2, pose[TY] * frame_size + frame_size / 2])
    s = pose[SCALE] * frame_size
    xy = landmarks[:, :2] - t
    # z of the rigid fit is not stored in the pose: centre depth on the rigid points instead.
    z = landmarks[:, 2:] - landmarks[topo.RIGID, 2:].mean(0)
    return np.concatenate([xy, z], 1) @ r / s


def place(canonical: np.ndarray, pose: np.ndarray, frame_size: float) -> np.ndarray:
    """Canonical shape (N, 3) -> pixel coordinates (N, 3) (z relative, for depth ordering)."""
    r = euler_to_matrix(*pose[:3])
    s = pose[SCALE] * frame_size
    out = s * canonical @ r.T
    out[:, 0] += pose[TX] * frame_size + frame_size / 2
    out[:, 1] += pose[TY] * frame_size + frame_size / 2
    return out


def unplace(points: np.ndarray, pose: np.ndarray, frame_size: float) -> np.ndarray:
    """Inverse of `place`: pixel coordinates (N, 3) -> canonical shape (N, 3)."""
    r = euler_to_matrix(*pose[:3])
    s = pose[SCALE] * frame_size
    t = np.array([pose[TX] * frame_size + frame_size / 2,
                  pose[TY] * frame_size + frame_size / 2, 0.0])
    return (points - t) @ r / s


def placer(pose: np.ndarray, frame_size: float):
    """`place` with the pose's rotation computed once: canonical (N, 3) -> pixels (N, 3)."""
    r = euler_to_matrix(*pose[:3])
    s = pose[SCALE] * frame_size
    t = np.array([pose[TX] * frame_size + frame_size / 2,
                  pose[TY] * frame_size + frame_size / 2, 0.0])
    return lambda canonical: s * canonical @ r.T + t


def eye_measures(canonical: np.ndarray, basis: FaceBasis) -> np.ndarray:
    """(open_right, open_left, gaze_x, gaze_y) of a canonical shape."""
    out = np.zeros(4)
    gaze = np.zeros(2)
    for i, (up, lo, corners, iris) in enumerate(
        ((_R_UP, _R_LO, _R_CORNERS, basis.iris_right), (_L_UP, _L_LO, _L_CORNERS, basis.iris_left))
    ):
        a, b = canonical[corners[0]], canonical[corners[1]]
        width = np.linalg.norm((a - b)[:2]) + 1e-6
        out[i] = np.mean(canonical[lo, 1] - canonical[up, 1]) / width
        gaze += (canonical[iris[0], :2] - 0.5 * (a + b)[:2]) / width
    out[2:] = gaze / 2
    return out


def encode_canonical(canonical: np.ndarray, basis: FaceBasis, identity: np.ndarray | None = None
                     ) -> np.ndarray:
    """Dynamics (D,) of a canonical shape. The PCA part is measured against `identity` (a
    canonical neutral shape) when given, else against the template."""
    ref = basis.template if identity is None else identity
    off = (canonical[basis.points] - ref[basis.points]).reshape(-1)
    pca = basis.components @ off / basis.std
    return np.concatenate([pca, eye_measures(canonical, basis)]).astype(np.float32)


def encode_landmarks(landmarks: np.ndarray, basis: FaceBasis, frame_size: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pose (6,), dynamics (D,), canonical (478, 3)) of pixel landmarks."""
    pose = fit_pose(landmarks, basis, frame_size)
    canonical = to_canonical(landmarks, pose, frame_size)
    return pose, encode_canonical(canonical, basis), canonical


def decode_canonical(canonical: np.ndarray, dyn_from: np.ndarray, dyn_to: np.ndarray,
                     basis: FaceBasis) -> np.ndarray:
    """Move a canonical face (478, 3) whose dynamics are `dyn_from` to dynamics `dyn_to`."""
    lay = basis.layout
    out = canonical.astype(np.float64).copy()
    delta = (dyn_to[lay.pca] - dyn_from[lay.pca]) * basis.std
    out[basis.points] += (delta @ basis.components).reshape(-1, 3)
    for i, (up, lo, iris) in enumerate(((_R_UP, _R_LO, basis.iris_right),
                                        (_L_UP, _L_LO, basis.iris_left))):
        # Blink: the upper lid slides towards the lower one, keeping the lid's own curve.
        gap = canonical[up] - canonical[lo]
        o_from = max(float(dyn_from[lay.eyes][i]), 0.0)
        o_to = max(float(dyn_to[lay.eyes][i]), 0.0)
        if o_from > MIN_OPEN:
            ratio = o_to / o_from
        else:  # closed in the portrait: open along the template's lid profile
            gap = basis.template[up] - basis.template[lo]
            ratio = o_to / max(float(eye_measures(basis.template, basis)[i]), MIN_OPEN)
            gap = gap * 1.0
        out[up] = out[lo] + gap * ratio
        # Gaze: the iris moves inside the eye by the change of (gaze_x, gaze_y) x eye width.
        corners = _R_CORNERS if i == 0 else _L_CORNERS
        width = np.linalg.norm((canonical[corners[0]] - canonical[corners[1]])[:2])
        out[iris, :2] += (dyn_to[lay.gaze] - dyn_from[lay.gaze]) * width
    return keep_lips_apart(out)
