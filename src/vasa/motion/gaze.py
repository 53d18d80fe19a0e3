"""Gaze control: turn the main gaze of generated motion to a requested direction.

VASA-1 conditions its generator on the main gaze g and trusts the model to follow it. Ours,
trained on 20 minutes of mostly camera-facing speech, does not: `--gaze left` and `right` came
out alike (issue 12), because the condition mixes head direction the model cannot express. So a
requested gaze is also steered explicitly after sampling, in the latents the renderer gets:

- the motion's current main gaze is the running median of its per-frame gaze in the camera
  frame (`gaze_angles`: eyes composed with the head) as it should re-track (`GazeSteer.seen`:
  the head's and the eyes' parts each scaled by its gain), over the frames emitted so far, so
  the correction drifts slowly and never jumps at a window boundary;
- the head turns by HEAD_SHARE of the difference (at most MAX_HEAD_TURN), as a person turning to
  look at something turns the head part of the way;
- the eyes carry the rest, frame by frame: each frame's own gaze (saccades, glances) is kept
  and offset by the same difference, the iris placed on the eyeball model of
  `vasa.data.conditions` that measures it;
- `eye_gain` and `head_gain` are how far this portrait's rendered eyes and head turn the gaze,
  as re-tracked, per unit of latent turn (measured per portrait by
  `vasa.pipelines.calibrate.gaze_response`: eyes 0.3-0.8, as the painted iris stays inside
  the lids; head 0.7-1.0). Each is asked for its share divided by its gain; the eyes at most
  MAX_EYE_TURN (past it the painted iris stops moving), the head turns what they cannot;
- the main gaze steered to is the request's calibrated `aim` where one was measured
  (`vasa.pipelines.calibrate.aim_gaze`: the portrait rendered at the request and re-tracked,
  corrected until what is seen is what was asked).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from vasa.data.conditions import EYEBALL_RADIUS, REST_GAZE_Y, gaze_angles
from vasa.latent.geometry import euler_to_matrix
from vasa.latent.motion import PITCH, YAW, DynamicsLayout, MotionLatents

HEAD_SHARE = 0.4  # share of a gaze change the head turns; the eyes turn the rest
MAX_HEAD_TURN = np.radians(20.0)  # the head turns at most this far to follow a request
MAX_EYE_TURN = np.radians(12.0)  # latent eye turn asked at most: the probed, linear range
MAX_EYE_SIN = np.sin(np.radians(40.0))  # eyes rotate at most ~40 degrees in the head
HISTORY = 250  # frames (10 s) of the running main-gaze estimate


@dataclass(frozen=True)
class GazeResponse:
    """Re-tracked change of the gaze angle per unit of latent change, (horizontal, vertical):
    for an eye turn and for a head turn. The iris is painted inside the portrait's own lids and
    the tracker reads it back shorter than asked (0.3-0.8 on the public portraits); a head turn
    reads back nearly whole (0.7-1.0)."""

    eyes: tuple[float, float] = (1.0, 1.0)
    head: tuple[float, float] = (1.0, 1.0)
    # (requested main gaze, latent main gaze to steer to so that the request is what re-tracks)
    # pairs, radians, one per request calibrated (`calibrate.aim_gaze`). The gains above are
    # slopes at small turns; a request of 10-15 degrees meets the lids (a downward iris is read
    # back short) and the tracker's own bias (3-4 degrees on some portraits), which a linear
    # gain cannot carry.
    aims: tuple[tuple[tuple[float, float], tuple[float, float]], ...] = ()

    def aim(self, target: tuple[float, float]) -> tuple[float, float]:
        """The latent main gaze to steer to for a requested `target` (itself if not calibrated)."""
        for asked, aim in self.aims:
            if np.allclose(asked, target, atol=1e-6):
                return aim
        return (float(target[0]), float(target[1]))

    def aimed(self, target: tuple[float, float]) -> bool:
        """Whether an aim was calibrated for `target`."""
        return any(np.allclose(asked, target, atol=1e-6) for asked, _ in self.aims)

    def with_aim(self, target: tuple[float, float], aim: tuple[float, float]) -> GazeResponse:
        kept = tuple((a, b) for a, b in self.aims if not np.allclose(a, target, atol=1e-6))
        return replace(self, aims=(*kept, (tuple(map(float, target)), tuple(map(float, aim)))))


def direction(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Unit gaze vectors (T, 3) in the camera frame (x right, y down, z away) from the angles
    `gaze_angles` returns: theta = atan2(x, -z), phi = atan2(y, hypot(x, z))."""
    return np.stack([np.cos(phi) * np.sin(theta), np.sin(phi), -np.cos(phi) * np.cos(theta)], -1)


class GazeSteer:
    """Steers latents (absolute pose and dynamics) to a main gaze `target` (theta, phi) radians.
    Call in frame order; `reset()` starts a new stream."""

    def __init__(self, layout: DynamicsLayout, response: GazeResponse | None = None,
                 rest: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.layout = layout
        self.response = response or GazeResponse()
        # The portrait's (pose, dynamics): rendered, it reads as its own latent gaze, so the
        # gains apply to departures from it (`seen`).
        self._rest = None if rest is None else self._parts(np.asarray(rest[1], np.float64)[None],
                                                            np.asarray(rest[0], np.float64)[None])
        self.reset()

    def _parts(self, dyn: np.ndarray, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(head part, eye part) (T, 2) of each frame's latent gaze: where the head points
        (eyes at rest) and what the eyes add to it."""
        still = dyn.copy()
        still[:, self.layout.gaze] = (0.0, REST_GAZE_Y)
        head = gaze_angles(still, pose).astype(np.float64)
        return head, gaze_angles(dyn, pose) - head

    def seen(self, dyn: np.ndarray, pose: np.ndarray) -> np.ndarray:
        """(T, 2) gaze each frame should re-track as: its head part and its eye part, each
        moved from the portrait's by its gain. The latent gaze alone counts an eye turn the
        rendered iris cannot show (a downward look on a portrait whose iris the lower lid
        hides: vertical eye gain 0.25) as reached, and the head was then not turned for it."""
        head, eyes = self._parts(dyn, pose)
        if self._rest is None:
            return head * self.head_gain + eyes * self.eye_gain
        head0, eyes0 = self._rest
        return (head0 + (head - head0) * self.head_gain
                + eyes0 + (eyes - eyes0) * self.eye_gain)

    @property
    def response(self) -> GazeResponse:
        return self._response

    @response.setter
    def response(self, response: GazeResponse) -> None:
        self._response = response
        self.eye_gain = np.asarray(response.eyes, np.float64)
        self.head_gain = np.asarray(response.head, np.float64)

    def reset(self) -> None:
        self._seen: deque[np.ndarray] = deque(maxlen=HISTORY)  # per-frame gaze before steering

    def __call__(self, motion: MotionLatents, target: tuple[float, float],
                 head_share: float = HEAD_SHARE) -> MotionLatents:
        """Steered copy of `motion`; head_share 0 leaves the head alone (a still head)."""
        pose = np.array(motion.pose, np.float64)
        dyn = np.array(motion.dynamics, np.float64)
        gaze = dyn[:, self.layout.gaze]
        now = gaze_angles(dyn, pose)  # (T, 2): reads gaze from the last two columns
        self._seen.extend(self.seen(dyn, pose))
        aim = np.asarray(self.response.aim(target), np.float64)
        change = aim - np.median(np.stack(self._seen), 0)  # (2,) as it should be seen
        head, eyes = self.split(change, head_share)
        pose[:, YAW] -= head[0]  # yaw > 0 turns the face towards image left (theta < 0)
        pose[:, PITCH] += head[1]  # pitch > 0 tips the face down (phi > 0)
        turn = head + eyes  # latent change of the camera-frame gaze
        want = direction(now[:, 0] + turn[0], now[:, 1] + turn[1])  # (T, 3) camera frame
        for t in range(len(pose)):
            eye = euler_to_matrix(*pose[t, :3]).T @ want[t]  # the direction in the head's frame
            xy = eye[:2]
            norm = np.linalg.norm(xy)
            if norm > MAX_EYE_SIN:
                xy = xy * (MAX_EYE_SIN / norm)
            gaze[t] = xy * EYEBALL_RADIUS + [0.0, REST_GAZE_Y]
        dyn[:, self.layout.gaze] = gaze
        return MotionLatents(pose.astype(np.float32), dyn.astype(np.float32))

    def split(self, change: np.ndarray, head_share: float) -> tuple[np.ndarray, np.ndarray]:
        """(latent head turn, latent eye turn) (2,) each, radians, for a gaze change (2,) as it
        should be seen."""
        head = np.clip(head_share * change / self.head_gain, -MAX_HEAD_TURN, MAX_HEAD_TURN)
        eyes = np.clip((change - self.head_gain * head) / self.eye_gain, -MAX_EYE_TURN,
                       MAX_EYE_TURN)
        if head_share > 0:  # what the eyes cannot show, the head turns
            head = np.clip((change - self.eye_gain * eyes) / self.head_gain, -MAX_HEAD_TURN,
                           MAX_HEAD_TURN)
        return head, eyes
