"""How a portrait renders, measured once per portrait: render a few probe frames and track
them back with the tracker the evaluation re-tracks videos with."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vasa.data.conditions import gaze_angles
from vasa.latent.basis import FaceBasis
from vasa.latent.face_model import MIN_OPEN, encode_landmarks, eye_measures, lip_gap, move_lip_gap
from vasa.latent.motion import PITCH, YAW, MotionLatents
from vasa.motion.gaze import GazeResponse, GazeSteer
from vasa.motion.lids import PROBES, LidResponse
from vasa.motion.mouth import MouthResponse
from vasa.overlap import Background
from vasa.portrait import Portrait
from vasa.render import Renderer
from vasa.render.paste import PictureRenderer, output_renderer, picture_matte
from vasa.tracking import FaceLandmarker

PROBE = 0.08  # latent iris offset of the eye probes, in eye widths (about 11 degrees)
HEAD_PROBE = 0.09  # radians of head pitch / yaw of the head probes (about 5 degrees)
GAIN_RANGE = (0.25, 1.25)  # a measured gain outside this is a failed measurement: clipped
AIM_STEPS = 3  # render-track-correct rounds of `aim_gaze`
MAX_AIM = np.radians(8.0)  # `aim_gaze` corrects a request by at most this much, per axis


# Changes of the inner-lip gap the mouth probes render, eye distances from the talking rest's
# (0.088): a lightly closed mouth to a wide one (0.24; real held-out speakers' 97th
# percentiles are 0.12-0.26). Under the rest the map is carried on at its first slope.
MOUTH_PROBES = (-0.05, 0.0, 0.05, 0.1, 0.15)


def mouth_and_lid_response(portrait: Portrait, renderer: Renderer, basis: FaceBasis,
                           mouth: bool = True) -> tuple[MouthResponse, LidResponse]:
    """Measure a portrait's MouthResponse from one probe render per MOUTH_PROBES change of
    its talking rest's lip gap, and its LidResponse from the rest and one render per
    `lids.PROBES` ratio of the rest's eyelid openness, with one tracker; the neutral response
    of either where one of its probes cannot be tracked. mouth=False: the lids' probes only
    (the mouth's response neutral)."""
    rest = portrait.talking_rest(basis)
    eyes = basis.layout.eyes
    with FaceLandmarker(blendshapes=False) as tracker:
        def read(dynamics: np.ndarray) -> np.ndarray | None:
            faces = tracker.detect(renderer.render(portrait.pose, dynamics))
            if not faces:
                return None
            return encode_landmarks(faces[0].landmarks, basis, portrait.size)[2]

        at_rest = read(rest)
        mouths = [at_rest if change == 0 else read(move_lip_gap(rest, change, basis))
                  for change in (MOUTH_PROBES if mouth else ())]
        lids = []
        for ratio in PROBES:
            closed = np.array(rest, np.float32)
            closed[eyes] *= ratio
            lids.append(read(closed))
    mouth_response, lid_response = MouthResponse(), LidResponse()
    if at_rest is None:
        return mouth_response, lid_response
    if mouths and all(c is not None for c in mouths):
        rest_gap = lip_gap(basis.template)
        mouth_response = MouthResponse(MOUTH_PROBES,
                                       tuple(lip_gap(c) - rest_gap for c in mouths))
    open_rest = float(eye_measures(at_rest, basis)[:2].mean())
    if all(c is not None for c in lids) and open_rest > MIN_OPEN:
        lid_response = LidResponse(PROBES, tuple(float(eye_measures(c, basis)[:2].mean())
                                                 / open_rest for c in lids))
    return mouth_response, lid_response


def calibrated_output(portrait: Portrait, renderer: Renderer, basis: FaceBasis,
                      mouth: bool = True
                      ) -> tuple[Renderer | PictureRenderer, MouthResponse, LidResponse]:
    """What a pipeline writes for `renderer` (`paste.output_renderer`) and the portrait's
    `mouth_and_lid_response` (mouth=False: the lids' only), with the person matte made on a
    thread meanwhile: the matte's GrabCut and the probes' renders and tracking run in OpenCV,
    ONNX Runtime and MediaPipe, which release the GIL, so on two cores the setup takes about
    the longer of the two rather than their sum. The probes render the crop, which the matte
    does not change."""
    with Background(lambda stop: picture_matte(renderer), "matte") as matte:
        mouth, lids = mouth_and_lid_response(portrait, renderer, basis, mouth)
        output = output_renderer(renderer, matte.result())
    return output, mouth, lids


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
    with FaceLandmarker(blendshapes=False) as tracker:
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



def aim_gaze(renderer: Renderer, basis: FaceBasis, size: int, response: GazeResponse,
             target: tuple[float, float],
             sample: Callable[[GazeResponse], MotionLatents]) -> GazeResponse:
    """`response` with the latent main gaze to steer to for a requested `target` (radians).

    `sample(response)` gives frames steered with a response (`rest_frames`: the portrait at
    rest). They are rendered and tracked back (`size`: the portrait's size in pixels, for the
    tracker's units), and the aim moves by what their median gaze misses, AIM_STEPS times; the
    aim whose frames were seen nearest the request is kept (the request itself if none came
    nearer). This finds what the gains alone cannot: the tracker's bias on this portrait and
    the lids cutting a large turn short. Corrections are kept within MAX_AIM: far beyond it
    the tracker's reading stops following the eyes (an iris under the lid reads as level), so
    a bigger step would chase a misreading."""
    want = np.asarray(target, np.float64)
    aim = want.copy()
    best, best_error = want.copy(), np.inf
    with FaceLandmarker(blendshapes=False) as tracker:
        for _ in range(AIM_STEPS):
            motion = sample(response.with_aim(target, tuple(aim)))
            seen = []
            for pose, dyn in zip(motion.pose, motion.dynamics, strict=True):
                faces = tracker.detect(renderer.render(pose, dyn))
                if faces:
                    p, measured, _ = encode_landmarks(faces[0].landmarks, basis, size)
                    seen.append(gaze_angles(measured[None], p[None])[0])
            if len(seen) < (len(motion) + 1) // 2:
                break
            miss = want - np.median(seen, 0)
            if np.linalg.norm(miss) < best_error:
                best, best_error = aim.copy(), float(np.linalg.norm(miss))
            aim = want + np.clip(aim + miss - want, -MAX_AIM, MAX_AIM)
    if np.allclose(best, want):
        return response
    return response.with_aim(target, tuple(best))


def rest_frames(portrait: Portrait, basis: FaceBasis, target: tuple[float, float],
                head_share: float) -> Callable[[GazeResponse], MotionLatents]:
    """`aim_gaze`'s sample: the portrait at rest, steered to `target` (one frame)."""
    rest = MotionLatents(np.asarray(portrait.pose, np.float32)[None],
                         np.asarray(portrait.dynamics, np.float32)[None])

    def sample(response: GazeResponse) -> MotionLatents:
        return GazeSteer(basis.layout, response, (portrait.pose, portrait.dynamics))(
            rest, target, head_share)

    return sample

