"""Per-frame gaze and blinks, and the per-clip conditions of VASA-1 (section 2): main gaze g,
head distance d and emotion offset e.

Gaze sign convention (camera frame, radians): theta > 0 looks towards image right (the
person's left), phi > 0 looks down; (0, 0) looks straight into the camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vasa.latent.geometry import euler_to_matrix
from vasa.latent.motion import PITCH, ROLL, YAW

# Eyeball model: the iris centre sits on a sphere of radius EYEBALL_RADIUS (in eye widths) around
# the eye centre, so (iris offset / eye width) = EYEBALL_RADIUS * sin(angle). An adult eyeball
# is ~24 mm across and the palpebral fissure ~28-30 mm wide: r ~ 12 / 28.5 ~ 0.42 eye width.
EYEBALL_RADIUS = 0.42
# gaze_y measures the iris from the midpoint of the eye corners, but the iris of an eye looking
# straight ahead sits above that line (the corners are low on the eye's outline): gaze_y is
# about -0.07 on frontal clips looking into the camera, so that level counts as straight ahead.
REST_GAZE_Y = -0.07
BLINK_DROP = 0.5  # a blink: mean openness below this share of the clip's open level ...
BLINK_SECONDS = (0.05, 0.8)  # ... for a span in this range (blinks last ~0.1-0.4 s)
OPEN_WINDOW_S = 3.0  # running median window for the open level (blinks are far shorter)


def gaze_angles(dynamics: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Where the person looks in the camera frame: (T, 2) float32 (theta, phi) radians.

    dynamics: (T, D) with gaze_x, gaze_y its last two columns (iris offset / eye width in the
    head's canonical frame, x right, y down); pose: (T, 6) pitch, yaw, roll radians, ...
    The eye-in-head direction follows from the eyeball model; the head rotation R (x right,
    y down, z away from the camera, face towards -z) turns it into the camera frame.
    """
    dynamics, pose = np.asarray(dynamics, np.float64), np.asarray(pose, np.float64)
    if dynamics.ndim != 2 or pose.ndim != 2 or len(dynamics) != len(pose):
        raise ValueError(f"expected (T, D) dynamics and (T, 6) pose, got {dynamics.shape} and "
                         f"{pose.shape}")
    xy = (dynamics[:, -2:] - [0.0, REST_GAZE_Y]) / EYEBALL_RADIUS  # (T, 2) sin of eye angles
    norm = np.linalg.norm(xy, axis=1, keepdims=True)
    xy = xy / np.maximum(norm, 1.0)  # past the eyeball's rim: clamp to the rim
    eye = np.concatenate([xy, -np.sqrt(np.clip(1.0 - (xy**2).sum(1, keepdims=True), 0, 1))], 1)
    rot = np.stack([euler_to_matrix(p[PITCH], p[YAW], p[ROLL]) for p in pose])  # (T, 3, 3)
    d = np.einsum("tij,tj->ti", rot, eye)  # (T, 3) gaze direction in the camera frame
    theta = np.arctan2(d[:, 0], -d[:, 2])
    phi = np.arctan2(d[:, 1], np.hypot(d[:, 0], d[:, 2]))
    return np.stack([theta, phi], 1).astype(np.float32)


def main_gaze(gaze: np.ndarray, bin_deg: float = 5.0) -> np.ndarray:
    """The clip's dominant gaze direction (2,) float32 radians, VASA-1's histogram clustering.

    gaze: (T, 2) per-frame (theta, phi). The frames go into a 2D histogram of `bin_deg` bins;
    the densest bin (counts summed with its 8 neighbours, so a peak straddling a bin edge is
    not split) wins, and the result is the mean of the frames in it and its neighbours. Blinks,
    glances away and tracking outliers fall in other bins and do not pull the result.
    """
    g = np.asarray(gaze, np.float64).reshape(-1, 2)
    g = g[np.isfinite(g).all(1)]
    if len(g) == 0:
        raise ValueError("main_gaze: no finite gaze values")
    idx = np.floor(g / np.radians(bin_deg)).astype(np.int64)  # (T, 2) bin of each frame
    lo = idx.min(0)
    idx -= lo
    shape = idx.max(0) + 1
    hist = np.zeros(shape + 2)  # one empty bin of padding on each side
    np.add.at(hist, (idx[:, 0] + 1, idx[:, 1] + 1), 1.0)
    near = sum(np.roll(hist, (i, j), (0, 1)) for i in (-1, 0, 1) for j in (-1, 0, 1))
    near[hist == 0] = 0  # the peak is an occupied bin
    best = np.array(np.unravel_index(np.argmax(near), near.shape)) - 1
    sel = (np.abs(idx - best) <= 1).all(1)
    return g[sel].mean(0).astype(np.float32)


def open_share(eye_open: np.ndarray, fps: float = 25.0) -> np.ndarray:
    """Mean eyelid openness of (T, 2) over its open level (T,): 1 open, 0 shut. The open level
    is a running median over OPEN_WINDOW_S, so slow changes such as looking down stay near 1."""
    o = np.asarray(eye_open, np.float64).reshape(len(eye_open), -1).mean(1)  # (T,)
    if len(o) == 0:
        raise ValueError("blink_count: empty eye-openness signal")
    half = max(1, int(OPEN_WINDOW_S * fps) // 2)
    padded = np.pad(o, half, mode="edge")
    level = np.median(np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1), 1)  # (T,)
    return o / np.maximum(level, 1e-9)


def _blink_runs(eye_open: np.ndarray, fps: float, shortest: float = BLINK_SECONDS[0]
                ) -> list[tuple[int, int]]:
    """(start, stop) frame spans of blinks in (T, 2) eyelid openness; `shortest`: the least
    duration in seconds (0: one-frame dips too)."""
    shut = open_share(eye_open, fps) < BLINK_DROP
    edges = np.flatnonzero(np.diff(shut.astype(np.int8), prepend=0, append=0))
    runs = []
    for a, b in zip(edges[::2], edges[1::2]):
        # A blink closes and reopens inside the clip: a span touching either end is not one.
        if a > 0 and b < len(shut) and shortest <= (b - a) / fps <= BLINK_SECONDS[1]:
            runs.append((int(a), int(b)))
    return runs


def blink_count(eye_open: np.ndarray, fps: float = 25.0) -> int:
    """Number of blinks in (T, 2) eyelid openness (open_right, open_left; gap / eye width).

    A blink: the mean openness drops below BLINK_DROP (50%) of the open level (running median
    over OPEN_WINDOW_S, so slow changes such as looking down do not count) and recovers within
    BLINK_SECONDS. At 25 fps the 0.05 s floor needs 2 shut frames: a 1-frame dip is noise.
    """
    return len(_blink_runs(eye_open, fps))


def blink_rate(eye_open: np.ndarray, fps: float = 25.0) -> float:
    """Blinks per minute of (T, 2) eyelid openness (adults at rest: ~15-20 per minute)."""
    return blink_count(eye_open, fps) / (len(eye_open) / fps / 60.0)


@dataclass
class ClipConditions:
    """The per-clip conditions of VASA-1. gaze: (2,) main gaze (theta, phi) radians; face_scale:
    median face scale (inter-ocular distance in frame widths; normalised to the head distance d
    across the dataset by `normalise_distance`); emotion: (7,) emotion offset e."""

    gaze: np.ndarray
    face_scale: float
    emotion: np.ndarray


def clip_conditions(gaze: np.ndarray, face_scale: np.ndarray, emotion: np.ndarray
                    ) -> ClipConditions:
    """Conditions of one clip. gaze: its main gaze (2,), or per-frame (T, 2) to cluster here;
    face_scale: (T,) per-frame face scale; emotion: (T, 7) per-frame emotion coefficients,
    averaged into the offset (VASA-1: "the clip's averaged emotion coefficients")."""
    gaze = np.asarray(gaze, np.float32)
    if gaze.ndim == 2:
        gaze = main_gaze(gaze)
    if gaze.shape != (2,):
        raise ValueError(f"gaze must be (2,) or (T, 2), got {gaze.shape}")
    scale = np.asarray(face_scale, np.float64).reshape(-1)
    emo = np.asarray(emotion, np.float64)
    if len(scale) == 0 or emo.ndim != 2 or len(emo) == 0:
        raise ValueError(f"need per-frame face_scale (T,) and emotion (T, 7), got {scale.shape} "
                         f"and {emo.shape}")
    return ClipConditions(gaze, float(np.median(scale)), emo.mean(0).astype(np.float32))


def normalise_distance(face_scales: np.ndarray) -> np.ndarray:
    """Head distance d (N,) of N clips from their face scales: dataset median / clip scale.

    Under weak perspective the face's size in the frame is inversely proportional to its
    distance from the camera, so d = 1 is a typical framing, d = 2 a face half the typical size
    (twice as far), d = 0.5 a close-up. The dataset median keeps d independent of resolution.
    """
    s = np.asarray(face_scales, np.float64).reshape(-1)
    if len(s) == 0:
        return s.astype(np.float32)
    if not (np.isfinite(s) & (s > 0)).all():
        raise ValueError("normalise_distance: face scales must be positive and finite")
    return (np.median(s) / s).astype(np.float32)
