"""Motion metrics over tracked motion latents: pure functions of (pose, dynamics, found, audio).

Inputs are what `vasa.tracking.video.track_video(path, fps=25.0)` re-extracts from a video
(generated or real), never the latents a generator emitted: the metrics judge what is on screen.
All rates assume 25 fps tracking (VASA-1 reports Delta P per frame at 25 fps).

A metric that has no value on its input raises `NotComputable` with the reason; callers turn
that into an "n/a (reason)" table cell rather than a made-up number.

pose (T, 6): pitch, yaw, roll (radians), tx, ty (frame widths), scale (inter-ocular distance in
frame widths). dynamics (T, 28): 24 whitened PCA coefficients, open_right, open_left, gaze_x,
gaze_y. found (T,) bool: False where the tracker lost the face (its motion is a held copy).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from vasa.data import conditions
from vasa.latent import topology as topo
from vasa.latent.basis import FaceBasis
from vasa.latent.motion import PITCH, ROLL, SCALE, TX, TY
from vasa.timebase import MOTION_FPS

FPS = float(MOTION_FPS)  # tracking rate every metric here assumes
MIN_RATE_SECONDS = 2.0  # per-minute rates from less than this are not reported
# Gaze shift: the median gaze over the GAZE_HALF frames after a frame differs from the median
# over the GAZE_HALF frames before it by more than GAZE_SHIFT_DEG. Medians ignore one-frame
# tracker spikes; the iris tracker's frame-to-frame noise reaches 3-5 degrees (99th percentile
# on the shared real clips), so only shifts of 6+ degrees (a saccade or a quick glance with the
# head) are counted: a noise-limited count, meaningful between methods, not as physiology.
GAZE_SHIFT_DEG = 6.0
GAZE_HALF = 3
# Silence: log10 RMS more than SILENCE_DROP (30 dB) below the clip's SPEECH_PERCENTILE level, in
# runs of at least MIN_SILENCE_FRAMES (0.2 s; shorter gaps are between syllables, where the lips
# legitimately move).
SILENCE_DROP = 1.5
SPEECH_PERCENTILE = 95
MIN_SILENCE_FRAMES = 5
MOUTH_POINTS = sorted(set(topo.LIPS_OUTER + topo.LIPS_INNER))
MILLI = 1e3  # jitter and mouth motion are reported in thousandths of an inter-ocular distance


class NotComputable(ValueError):
    """A metric has no value on this input; the message says why."""


def _found(found: np.ndarray | None, t: int) -> np.ndarray:
    ok = np.ones(t, bool) if found is None else np.asarray(found, bool).reshape(-1)
    if len(ok) != t:
        raise ValueError(f"found has {len(ok)} frames, motion {t}")
    if not ok.any():
        raise NotComputable("face lost in all frames")
    return ok


def _pairs(ok: np.ndarray) -> np.ndarray:
    """(T - 1,) bool: frames t and t + 1 both tracked."""
    return ok[1:] & ok[:-1]


def delta_p(pose: np.ndarray, found: np.ndarray | None = None) -> float:
    """VASA-1's Delta P (section 4.2): mean absolute difference of (pitch, yaw, roll) between
    adjacent frames, in degrees per frame at 25 fps, over pairs where both frames are tracked.

    pose: (T, 6). A ramp of 1 degree per frame on all three angles gives 1.0.
    """
    return float(pose_steps(pose, found).mean())


def pose_steps(pose: np.ndarray, found: np.ndarray | None = None) -> np.ndarray:
    """Per-pair mean |angle difference| in degrees (N,), pairs with both frames tracked: the
    distribution whose mean is Delta P."""
    pose = np.asarray(pose, np.float64)
    ok = _pairs(_found(found, len(pose)))
    if not ok.any():
        raise NotComputable("no two adjacent frames with the face tracked")
    d = np.diff(pose[:, PITCH:ROLL + 1], axis=0)[ok]  # (N, 3)
    d = (d + np.pi) % (2 * np.pi) - np.pi  # angles wrap: 359 and 1 degrees are 2 apart
    return np.degrees(np.abs(d)).mean(1)


def blink_rate(dynamics: np.ndarray, found: np.ndarray | None = None, fps: float = FPS) -> float:
    """Blinks per minute (`vasa.data.conditions.blink_count` on the eye-openness columns).

    dynamics: (T, D), open_right/open_left at columns D-4, D-3. Lost frames hold the last
    openness, so a blink is never invented there (only possibly missed).
    """
    dynamics = np.asarray(dynamics, np.float64)
    _found(found, len(dynamics))
    _check_duration(len(dynamics), fps, "blink rate")
    return conditions.blink_rate(dynamics[:, -4:-2], fps)


def _check_duration(t: int, fps: float, what: str) -> None:
    if t / fps < MIN_RATE_SECONDS:
        raise NotComputable(f"{what}: video is {t / fps:.1f} s (< {MIN_RATE_SECONDS} s)")


def gaze_shift_rate(dynamics: np.ndarray, pose: np.ndarray, found: np.ndarray | None = None,
                    fps: float = FPS, threshold_deg: float = GAZE_SHIFT_DEG) -> float:
    """Gaze shifts per minute: jumps of `conditions.gaze_angles` (camera frame, so a quick turn
    of the head counts as a shift, as it does for an onlooker) larger than `threshold_deg`.

    At frame t the median gaze of frames t+1 .. t+GAZE_HALF is compared with that of frames
    t-GAZE_HALF .. t-1; consecutive frames over the threshold are one shift. Spans with a lost
    face or a shut eye (openness below half the clip median: the iris is not visible) are not
    counted. dynamics (T, D), pose (T, 6).
    """
    dynamics, pose = np.asarray(dynamics, np.float64), np.asarray(pose, np.float64)
    ok = _found(found, len(pose))
    _check_duration(len(pose), fps, "gaze-shift rate")
    gaze = np.degrees(conditions.gaze_angles(dynamics, pose)).astype(np.float64)  # (T, 2)
    openness = dynamics[:, -4:-2].mean(1)
    ok = ok & (openness >= 0.5 * np.median(openness[ok]))
    h = GAZE_HALF
    med = np.median(sliding_window_view(gaze, h, axis=0), axis=2)  # (T-h+1, 2): med[i]=g[i:i+h]
    t = np.arange(h, len(gaze) - h)
    jump = np.linalg.norm(med[t + 1] - med[t - h], axis=1)  # (N,)
    valid = sliding_window_view(ok, 2 * h + 1).all(1)  # (N,): every frame of the span usable
    over = (jump > threshold_deg) & valid
    shifts = int(np.sum(np.diff(over.astype(np.int8), prepend=0) == 1))
    return shifts / (len(pose) / fps / 60.0)


def landmark_motion(dynamics: np.ndarray, basis: FaceBasis,
                    points: list[int] | None = None) -> np.ndarray:
    """Canonical landmark offsets (T, P, 3) of the PCA dynamics, in inter-ocular distances:
    coefficients x basis.std x components (the face model's own decoding, without identity).
    points: landmark indices to keep (all of basis.points when None)."""
    k = basis.num_pca
    coef = np.asarray(dynamics, np.float64)[:, basis.layout.pca] * basis.std  # (T, K)
    comp = basis.components.astype(np.float64).reshape(k, -1, 3)  # (K, P, 3)
    if points is not None:
        where = {int(p): i for i, p in enumerate(basis.points)}
        missing = [p for p in points if p not in where]
        if missing:
            raise ValueError(f"landmarks {missing} are not modelled by the face basis")
        comp = comp[:, [where[p] for p in points]]
    return np.einsum("tk,kpc->tpc", coef, comp)


def jitter(pose: np.ndarray, dynamics: np.ndarray, basis: FaceBasis,
           found: np.ndarray | None = None) -> float:
    """Energy of frame-to-frame acceleration: mean squared second difference of the canonical
    landmark motion, in (1e-3 inter-ocular distance)^2 per frame^2.

    Points: every landmark the PCA models (`landmark_motion`) plus the head origin, whose motion
    is the pose translation (tx, ty) divided by scale (frame widths -> inter-ocular distances).
    Rotation is left out (Delta P covers it). Averaged over points and over triples of
    consecutive tracked frames. Tracker noise is part of it for real and generated videos alike.
    """
    pose = np.asarray(pose, np.float64)
    ok = _found(found, len(pose))
    lm = landmark_motion(dynamics, basis)  # (T, P, 3)
    head = pose[:, TX:TY + 1] / pose[:, SCALE:SCALE + 1]  # (T, 2)
    head = np.concatenate([head, np.zeros((len(head), 1))], 1)[:, None]  # (T, 1, 3)
    x = np.concatenate([lm, head], 1)  # (T, P + 1, 3)
    triple = ok[2:] & ok[1:-1] & ok[:-2]
    if not triple.any():
        raise NotComputable("no three consecutive frames with the face tracked")
    acc = (x[2:] - 2 * x[1:-1] + x[:-2])[triple] * MILLI  # (N, P + 1, 3)
    return float((acc**2).sum(-1).mean())


def silent_frames(log_energy: np.ndarray) -> np.ndarray:
    """(T,) bool: frames in silent runs (see SILENCE_DROP) of at least MIN_SILENCE_FRAMES.

    log_energy: (T,) log10 RMS per frame (column 80 of the logmel+prosody features)."""
    e = np.asarray(log_energy, np.float64).reshape(-1)
    quiet = e < np.percentile(e, SPEECH_PERCENTILE) - SILENCE_DROP
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8), prepend=0, append=0))
    out = np.zeros(len(e), bool)
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a >= MIN_SILENCE_FRAMES:
            out[a:b] = True
    return out


def silence_mouth_motion(dynamics: np.ndarray, log_energy: np.ndarray, basis: FaceBasis,
                         found: np.ndarray | None = None) -> float:
    """Mouth movement while the audio is silent: mean lip-landmark speed, in 1e-3 inter-ocular
    distances per frame, over adjacent frame pairs that are both silent and tracked.

    Lips: outer and inner lip contours (`MOUTH_POINTS`), decoded from the PCA dynamics. Real
    speakers keep the lips nearly still in pauses; a generator that mumbles through them does
    not. dynamics (T, D); log_energy (T',): the common prefix of the two is used.
    """
    t = min(len(dynamics), len(log_energy))
    if t < 2:
        raise NotComputable("fewer than 2 frames")
    ok = _found(None if found is None else np.asarray(found)[:t], t)
    silent = silent_frames(np.asarray(log_energy)[:t])
    pairs = _pairs(ok & silent)
    if not pairs.any():
        raise NotComputable(f"no silence of {MIN_SILENCE_FRAMES}+ frames with the face tracked "
                            f"(silence: {SILENCE_DROP * 20:.0f} dB below the speech level)")
    lips = landmark_motion(np.asarray(dynamics)[:t], basis, MOUTH_POINTS)  # (t, L, 3)
    speed = np.linalg.norm(np.diff(lips, axis=0), axis=-1).mean(1)  # (t - 1,)
    return float(speed[pairs].mean() * MILLI)


def motion_features(pose: np.ndarray, dynamics: np.ndarray) -> np.ndarray:
    """Per-frame features (T, 3 + D + 6 + D) for the motion Frechet distance.

    [angles (deg, 3), dynamics (D), velocities: angles (deg/frame, 3), head position in
    inter-ocular distances per frame (2, framing-free), log scale per frame (1), dynamics (D)].
    Absolute position and scale are left out: they say how the video was cropped, not how the
    head moves. The first frame's velocities repeat the second's.
    """
    pose, dyn = np.asarray(pose, np.float64), np.asarray(dynamics, np.float64)
    angles = np.degrees(pose[:, PITCH:ROLL + 1])
    pos = pose[:, TX:TY + 1] / pose[:, SCALE:SCALE + 1]
    level = np.concatenate([angles, dyn], 1)  # (T, 3 + D)
    track = np.concatenate([angles, pos, np.log(pose[:, SCALE:SCALE + 1]), dyn], 1)
    vel = np.diff(track, axis=0)  # (T - 1, 6 + D)
    vel = np.concatenate([vel[:1], vel], 0) if len(vel) else np.zeros((len(pose), vel.shape[1]))
    return np.concatenate([level, vel], 1).astype(np.float32)


def motion_windows(features: np.ndarray, found: np.ndarray | None = None, size: int = 25,
                   stride: int = 5) -> np.ndarray:
    """(N, size, F) windows of per-frame features (T, F), every `stride` frames, keeping only
    windows whose frames are all tracked. 25 frames = 1 s, VASA-1's FVD_25 clip length."""
    feats = np.asarray(features, np.float32)
    ok = np.ones(len(feats), bool) if found is None else np.asarray(found, bool)
    if len(feats) < size:
        return np.zeros((0, size, feats.shape[1]), np.float32)
    starts = np.arange(0, len(feats) - size + 1, stride)
    starts = starts[sliding_window_view(ok, size).all(1)[starts]]
    return feats[starts[:, None] + np.arange(size)]


def frechet_motion_distance(real: np.ndarray, generated: np.ndarray,
                            components: int = 16) -> float:
    """Frechet distance between two sets of motion windows (N, W, F) and (M, W, F).

    Each window is flattened (W * F values), standardised with the REAL set's per-value mean
    and std, and projected on the real set's first `components` principal axes (a fixed,
    well-conditioned space shared by every method compared against the same real set); then
    FD = |mu_r - mu_g|^2 + tr(C_r + C_g - 2 (C_r^1/2 C_g C_r^1/2)^1/2) of Gaussians fitted in
    that space (Heusel et al. 2017). It is the motion analogue of VASA-1's FVD_25 over
    tracked latents, not video pixels or I3D features: NOT comparable with published FVD.
    Needs at least 2 * components windows in each set.
    """
    if min(len(real), len(generated)) < 2 * components:  # also: no tracked window at all
        raise NotComputable(f"{len(real)} real / {len(generated)} generated windows; the Frechet "
                            f"distance needs {2 * components} of each (one 25-frame window per "
                            "5 frames of tracked video)")
    x = np.asarray(real, np.float64).reshape(len(real), -1)
    y = np.asarray(generated, np.float64).reshape(len(generated), -1)
    mu, sd = x.mean(0), np.maximum(x.std(0), 1e-6)
    _, _, vt = np.linalg.svd((x - mu) / sd, full_matrices=False)
    a, b = ((z - mu) / sd @ vt[:components].T for z in (x, y))  # (N, k), (M, k)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(ca)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T  # C_r^1/2
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ cb @ root), 0, None)).sum()
    fd = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * cross
    return float(max(fd, 0.0))


def identity_vector(canonical: np.ndarray, basis: FaceBasis) -> np.ndarray:
    """Face-shape identity (P * 3,): the canonical shape's offset from the template on the
    basis points with every PCA dynamics direction projected out (what no expression explains).
    Equal for a `Portrait.identity` neutral shape and the frames it was taken from."""
    off = (np.asarray(canonical, np.float64)[basis.points] - basis.template[basis.points])
    off = off.reshape(-1)
    comp = basis.components.astype(np.float64)
    return off - comp.T @ (comp @ off)


def identity_similarity(reference: np.ndarray, shapes: np.ndarray, basis: FaceBasis) -> float:
    """Mean cosine similarity between the identity vector of a reference canonical face
    (478, 3) (e.g. `Portrait.identity(basis)`) and those of canonical shapes re-tracked from
    video frames (N, 478, 3) (`encode_landmarks(...)[2]`).

    This measures FACE-SHAPE preservation (3D landmark geometry), not appearance identity:
    the project has no face-recognition network, and skin, hair or texture changes are
    invisible to it. On the shared clips: the same person scores 0.6-0.9, others -0.4-0.6.
    """
    ref = identity_vector(reference, basis)
    shapes = np.asarray(shapes, np.float64).reshape(-1, *np.shape(reference))
    if len(shapes) == 0:
        raise NotComputable("no frame with a tracked face")
    vecs = np.stack([identity_vector(s, basis) for s in shapes])  # (N, P * 3)
    cos = vecs @ ref / (np.linalg.norm(vecs, axis=1) * np.linalg.norm(ref) + 1e-12)
    return float(cos.mean())
