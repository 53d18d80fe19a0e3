"""Rigid geometry of the face: similarity fits (Umeyama) and Euler angles.

Conventions: image axes x right, y down, z away from the camera (right-handed). A canonical shape
S (N, 3) is placed in the image as L = scale * S @ R.T + t (orthographic, weak perspective).
R = Rz(roll) @ Ry(yaw) @ Rx(pitch).
"""

from __future__ import annotations

import numpy as np


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity (s, R, t) minimising ||dst - (s * src @ R.T + t)||^2.

    src, dst: (N, 3). Umeyama, "Least-squares estimation of transformation parameters between
    two point patterns", TPAMI 1991.
    """
    mu_s, mu_d = src.mean(0), dst.mean(0)
    xs, xd = src - mu_s, dst - mu_d
    cov = xd.T @ xs / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0  # reflection: keep a proper rotation
    rot = u @ np.diag(d) @ vt
    var_s = (xs**2).sum() / len(src)
    scale = float((sig * d).sum() / var_s)
    t = mu_d - scale * mu_s @ rot.T
    return scale, rot, t


def euler_to_matrix(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """(3, 3) rotation R = Rz(roll) @ Ry(yaw) @ Rx(pitch), angles in radians."""
    cx, sx = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(yaw), np.sin(yaw)
    cz, sz = np.cos(roll), np.sin(roll)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def matrix_to_euler(rot: np.ndarray) -> tuple[float, float, float]:
    """Inverse of `euler_to_matrix`: (pitch, yaw, roll) in radians, yaw in [-pi/2, pi/2]."""
    yaw = float(np.arcsin(np.clip(-rot[2, 0], -1.0, 1.0)))
    pitch = float(np.arctan2(rot[2, 1], rot[2, 2]))
    roll = float(np.arctan2(rot[1, 0], rot[0, 0]))
    return pitch, yaw, roll
