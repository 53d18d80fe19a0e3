"""How a portrait renders, measured once per portrait: render a few probe frames and track
them back with the tracker the evaluation re-tracks videos with."""

from __future__ import annotations

import numpy as np

from vasa.data.conditions import gaze_angles
from vasa.latent.basis import FaceBasis
from vasa.latent.face_model import encode_landmarks, lip_gap, move_lip_gap
from vasa.latent.motion import PITCH, YAW
from vasa.motion.gaze import GazeResponse
from vasa.motion.mouth import MouthResponse
from vasa.portrait import Portrait
from vasa.render import Renderer
from vasa.tracking import FaceLandmarker

PROBE = 0.08  # latent iris offset of the eye probes, in eye widths (about 11 degrees)
HEAD_PROBE = 0.09  # radians of head pitch / yaw of the head probes (about 5 degrees)
GAIN_RANGE = (0.25, 1.25)  # a measured gain outside this is a failed measurement: clipped


MOUTH_PROBE = 0.05  # eye distances of inner-lip gap the mouth probes open and close by


def mouth_response(portrait: Portrait, renderer: Renderer, basis: FaceBasis) -> MouthResponse:
    """Measure a portrait's MouthResponse from 3 probe renders (its talking rest, the mouth
    MOUTH_PROBE more closed and more open); the neutral response where one cannot be
    tracked."""
    rest = portrait.talking_rest(basis)
    seen = []
    with FaceLandmarker() as tracker:
        for change in (-MOUTH_PROBE, 0.0, MOUTH_PROBE):
            faces = tracker.detect(renderer.render(portrait.pose,
                                                   move_lip_gap(rest, change, basis)))
            if not faces:
                return MouthResponse()
            _, _, canonical = encode_landmarks(faces[0].landmarks, basis, portrait.size)
            seen.append(lip_gap(canonical))
    return MouthResponse(gain=(seen[2] - seen[0]) / (2 * MOUTH_PROBE),
                         offset=seen[1] - lip_gap(basis.template))


def gaze_response(portrait: Portrait, renderer: Renderer, basis: FaceBasis) -> GazeResponse:
    """Measure a portrait's GazeResponse from 8 probe renders (eyes and head turned either way
    on each axis); the neutral response where a probe frame cannot be tracked."""
    lay = basis.layout
    probes = []  # (axis, pose, dynamics) pairs: minus then plus
    for axis, (dx, dy) in enumerate([(PROBE, 0.0), (0.0, PROBE)]):
        for sign in (-1, 1):
            dyn = np.array(portrait.dynamics, np.float32)
            dyn[lay.gaze] += (sign * dx, sign * dy)
            probes.append(("eyes", axis, np.array(portrait.pose, np.float32), dyn))
    # theta follows -yaw, phi follows +pitch (vasa.data.conditions.gaze_angles)
    for axis, (angle, sign_to_gaze) in enumerate([(YAW, -1), (PITCH, 1)]):
        for sign in (-1, 1):
            pose = np.array(portrait.pose, np.float32)
            pose[angle] += sign * sign_to_gaze * HEAD_PROBE
            probes.append(("head", axis, pose, np.array(portrait.dynamics, np.float32)))
    gains: dict[str, list[float]] = {"eyes": [1.0, 1.0], "head": [1.0, 1.0]}
    with FaceLandmarker() as tracker:
        for k in range(0, len(probes), 2):
            part, axis = probes[k][0], probes[k][1]
            latent, seen = [], []
            for _, _, pose, dyn in probes[k:k + 2]:
                faces = tracker.detect(renderer.render(pose, dyn))
                if not faces:
                    return GazeResponse()
                p, measured, _ = encode_landmarks(faces[0].landmarks, basis, portrait.size)
                latent.append(gaze_angles(dyn[None], pose[None])[0, axis])
                seen.append(gaze_angles(measured[None], p[None])[0, axis])
            gains[part][axis] = float(np.clip((seen[1] - seen[0]) / (latent[1] - latent[0]),
                                              *GAIN_RANGE))
    return GazeResponse(tuple(gains["eyes"]), tuple(gains["head"]))
